import type { Principal } from "../auth/token-validator.js";
import type { AuditLog } from "../audit/audit-log.js";
import type { CatalogService } from "../licenses/catalog.js";
import { licenseErrors, productLabel } from "../licenses/errors.js";
import type { Catalog, Product } from "../licenses/model.js";
import type { Stored } from "../storage/repository.js";
import { AppError } from "../errors/app-error.js";
import { appDisplayName, type PolicyAppId } from "./apps.js";
import { appPlanNames, productLicensesApp } from "./triggers.js";
import type { CreatePolicyBody, PatchPolicyBody, PolicyDocument, PolicyProduct, PolicyView } from "./policy.js";
import { strip, type PolicyStore } from "./policy-store.js";

/** The policy use-cases (A2-A6, A12) behind the HTTP endpoints. Every write is audited (P9). */
export interface PolicyDeps {
  policies: PolicyStore;
  catalog: CatalogService;
  audit: AuditLog;
}

export async function createPolicy(deps: PolicyDeps, tenantId: string, body: CreatePolicyBody, by: Principal): Promise<{ view: PolicyView; etag: string }> {
  const catalog = await deps.catalog.get(tenantId);
  checkProducts(catalog, body.appId, body.products);
  const stored = await deps.policies.create(tenantId, body, by.objectId);
  await record(deps, tenantId, by, "auto-claim.policy.create", stored.id, undefined, strip(stored));
  return { view: toView(stored, catalog), etag: stored._etag };
}

export async function getPolicy(deps: PolicyDeps, tenantId: string, policyId: string): Promise<{ view: PolicyView; etag: string }> {
  const stored = await deps.policies.get(tenantId, policyId);
  return { view: toView(stored, await catalogOrUndefined(deps, tenantId)), etag: stored._etag };
}

export async function listPolicies(deps: PolicyDeps, tenantId: string, limit: number, continuation: string | undefined) {
  const page = await deps.policies.list(tenantId, limit, continuation);
  const catalog = page.items.length ? await catalogOrUndefined(deps, tenantId) : undefined;
  return { items: page.items.map((p) => toView(p, catalog)), continuationToken: page.continuationToken };
}

export async function patchPolicy(deps: PolicyDeps, tenantId: string, policyId: string, patch: PatchPolicyBody, ifMatch: string, by: Principal) {
  const catalog = await deps.catalog.get(tenantId);
  // The app of a policy does not change: the products are checked against the one it has.
  if (patch.products) checkProducts(catalog, (await deps.policies.get(tenantId, policyId)).appId, patch.products);
  const { before, after, changed } = await deps.policies.update(tenantId, policyId, patch, ifMatch, by.objectId);
  if (changed) await record(deps, tenantId, by, "auto-claim.policy.update", policyId, before, strip(after));
  return { view: toView(after, catalog), etag: after._etag };
}

export async function deletePolicy(deps: PolicyDeps, tenantId: string, policyId: string, ifMatch: string, by: Principal): Promise<void> {
  const before = await deps.policies.delete(tenantId, policyId, ifMatch);
  await record(deps, tenantId, by, "auto-claim.policy.delete", policyId, before, undefined);
}

/**
 * Every product must be this tenant's, assignable, the disabled plans its own (422 otherwise), and
 * it must license the policy's app with the plans left on (A2: the admin center offers an app's
 * products only): a product that does not would spend a license on each user without giving the app.
 */
function checkProducts(catalog: Catalog, appId: string, products: readonly PolicyProduct[]): void {
  const index = new Map(catalog.products.map((p) => [p.skuId, p]));
  for (const wanted of products) {
    const product = index.get(wanted.skuId);
    if (!product) throw licenseErrors.unknownProduct(wanted.skuId);
    if (product.kind === "selfService") throw licenseErrors.selfService(product);
    const plans = new Set(product.servicePlans.map((p) => p.servicePlanId.toLowerCase()));
    const foreign = wanted.disabledPlans.find((p) => !plans.has(p));
    if (foreign) throw licenseErrors.unknownServicePlan(wanted.skuId, foreign);
    if (!productLicensesApp(product, wanted.disabledPlans, appId)) throw productNotForApp(product, appId, wanted.disabledPlans);
  }
}

function productNotForApp(product: Product, appId: string, disabledPlans: readonly string[]): AppError {
  const app = appDisplayName(appId) ?? appId;
  const wanted = appPlanNames(appId);
  const switchedOff = product.servicePlans.filter((p) => wanted.includes(p.servicePlanName.toUpperCase()) && disabledPlans.includes(p.servicePlanId.toLowerCase()));
  const detail = switchedOff.length
    ? `${productLabel(product)} licenses ${app} through ${switchedOff.map((p) => p.servicePlanName).join(", ")}, which this policy switches off: leave it on.`
    : `${productLabel(product)} does not license ${app} (it includes none of ${wanted.join(", ")}): a claim would spend a license without giving the user the app. Choose a product that includes one.`;
  return new AppError("businessRule", detail, {
    code: "product-not-for-app",
    extensions: { skuId: product.skuId, skuPartNumber: product.skuPartNumber, appId, appServicePlans: wanted, ...(switchedOff.length ? { servicePlanId: switchedOff[0]!.servicePlanId } : {}) },
  });
}

async function catalogOrUndefined(deps: PolicyDeps, tenantId: string): Promise<Catalog | undefined> {
  // The list still answers when Graph cannot be reached; counts are then unknown (null).
  return deps.catalog.get(tenantId).catch(() => undefined);
}

export function toView(doc: PolicyDocument | Stored<PolicyDocument>, catalog: Catalog | undefined): PolicyView {
  const index = new Map<string, Product>((catalog?.products ?? []).map((p) => [p.skuId, p]));
  return {
    id: doc.id,
    name: doc.name,
    appId: doc.appId as PolicyAppId, // every policy is created with one of POLICY_APP_IDS
    appDisplayName: appDisplayName(doc.appId),
    status: doc.enabled ? "enabled" : "disabled",
    enabled: doc.enabled,
    products: doc.products.map((p, i) => {
      const product = index.get(p.skuId);
      return {
        skuId: p.skuId,
        skuPartNumber: product?.skuPartNumber ?? null,
        displayName: product?.displayName ?? null,
        role: i === 0 ? ("primary" as const) : ("backup" as const),
        disabledPlans: p.disabledPlans,
        available: product ? product.available : null,
        total: product ? product.total : null,
      };
    }),
    createdAt: doc.createdAt,
    createdBy: doc.createdBy,
    updatedAt: doc.updatedAt,
    updatedBy: doc.updatedBy,
  };
}

async function record(deps: PolicyDeps, tenantId: string, by: Principal, action: string, policyId: string, before: unknown, after: unknown): Promise<void> {
  await deps.audit.append(tenantId, {
    actor: { type: by.isApplication ? "application" : "user", id: by.objectId, ...(by.name ? { name: by.name } : {}) },
    action,
    target: { type: "auto-claim-policy", id: policyId },
    phase: "record",
    ...(before !== undefined ? { before } : {}),
    ...(after !== undefined ? { after } : {}),
    outcome: "succeeded",
  });
}
