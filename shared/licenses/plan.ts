import type { AppError } from "../errors/app-error.js";
import type { AuditActor } from "./actor.js";
import { licenseErrors } from "./errors.js";
import type { AssignLicenseCall, GraphLicenseState, GraphUser } from "./graph-licensing.js";
import { consumedSkus, directLicenses, enabledPlans, groupLicenses, isActive, planNames, productIndex, statesOf } from "./license-state.js";
import type { AddLicense, BulkMode, Catalog, ChangePlan, SetPlans } from "./model.js";
import { firstViolation, type LicenseRules } from "./rules.js";

/**
 * What one user's license change amounts to, decided before Graph is called (pure):
 * - L3/L4 "add": a license the user already holds directly is not sent again (that would reset
 *   the plans an admin switched off); one held only through a group is added directly (no new unit).
 * - L4 "replace": also removes the direct licenses not listed; inherited ones stay (L15).
 * - L5: `setPlans` is the only way a held license is re-sent, with exactly the plans given.
 * - L9 guests (Global Administrator only), L10 self-service (never), L8 usage location,
 *   L6 the rules table, L15 removal of an inherited license (409).
 * L7 (enough units) is checked over all users of a request by the caller, from `newUnits`.
 */
export interface LicenseChange {
  userId: string;
  add?: readonly AddLicense[];
  remove?: readonly string[];
  setPlans?: readonly SetPlans[];
}

export interface PlanInput {
  user: GraphUser;
  change: LicenseChange;
  mode: BulkMode;
  catalog: Catalog;
  rules: LicenseRules;
  actor: AuditActor;
}

export type PlannedChange =
  | {
      ok: true;
      plan: ChangePlan;
      /** The assignLicense call, or null when there is nothing to send. */
      call: AssignLicenseCall | null;
      /** Products this change takes a new unit of. */
      newUnits: string[];
      /** Products whose unit this change returns to the pool. */
      freedUnits: string[];
    }
  | { ok: false; error: AppError };

/**
 * What refuses a change whoever its user is (L10, unknown products and service plans): a product to
 * add or re-plan that the tenant does not have, one to remove that it does not have and the user
 * does not hold directly (`heldDirectly`), one to add, re-plan or remove that is a self-service
 * purchase, a plan to disable that is not part of its product. Undefined when the products of the change are fine.
 */
export function productRefusal(change: LicenseChange, catalog: Catalog, heldDirectly: ReadonlySet<string> = new Set()): AppError | undefined {
  const products = productIndex(catalog);
  for (const a of [...(change.add ?? []), ...(change.setPlans ?? [])]) {
    const product = products.get(a.skuId);
    if (!product) return licenseErrors.unknownProduct(a.skuId);
    if (product.kind === "selfService") return licenseErrors.selfService(product);
    const unknownPlan = (a.disabledPlans ?? []).find((p) => !product.servicePlans.some((sp) => sp.servicePlanId === p));
    if (unknownPlan) return licenseErrors.unknownServicePlan(a.skuId, unknownPlan);
  }
  // A license the user holds directly can always be removed, whatever the catalog (possibly older
  // than a purchase) says; any other product to remove must be one of the tenant's.
  const unknownRemoved = (change.remove ?? []).find((skuId) => !products.has(skuId) && !heldDirectly.has(skuId));
  if (unknownRemoved) return licenseErrors.unknownProduct(unknownRemoved);
  // L10: a self-service product named for removal is refused whoever holds it (as one to add is).
  const selfServiceRemoved = (change.remove ?? []).map((skuId) => products.get(skuId)).find((p) => p?.kind === "selfService");
  if (selfServiceRemoved) return licenseErrors.selfService(selfServiceRemoved);
  return undefined;
}

export function planChange({ user, change, mode, catalog, rules, actor }: PlanInput): PlannedChange {
  const direct = directLicenses(user);
  const refused = productRefusal(change, catalog, new Set(direct.keys()));
  if (refused) return fail(refused);
  const products = productIndex(catalog);
  const inherited = groupLicenses(user);
  const plan: ChangePlan = { add: [], remove: [], unchanged: [] };

  for (const a of change.add ?? []) {
    if (direct.has(a.skuId)) {
      plan.unchanged.push({ skuId: a.skuId, reason: "already assigned directly; its service plans are kept (change them with PATCH /users/{userId}/licenses/{skuId})" });
      continue;
    }
    plan.add.push({ skuId: a.skuId, disabledPlans: [...new Set(a.disabledPlans ?? [])] });
  }

  for (const s of change.setPlans ?? []) {
    const current = direct.get(s.skuId);
    if (!current) {
      const groups = inherited.get(s.skuId);
      return fail(groups ? licenseErrors.groupInherited(s.skuId, groups) : licenseErrors.licenseNotAssigned(s.skuId));
    }
    if (s.disabledPlans === undefined) {
      plan.unchanged.push({ skuId: s.skuId, reason: "no change of its service plans was asked for" });
      continue;
    }
    const wanted = [...new Set(s.disabledPlans)].sort();
    if (sameSet(current, wanted)) {
      plan.unchanged.push({ skuId: s.skuId, reason: "its service plans are already as requested" });
      continue;
    }
    plan.add.push({ skuId: s.skuId, disabledPlans: wanted });
  }

  const listed = new Set([...(change.add ?? []).map((a) => a.skuId), ...(change.setPlans ?? []).map((s) => s.skuId)]);
  const removals = new Set(change.remove ?? []);
  if (mode === "replace") {
    for (const skuId of direct.keys()) if (!listed.has(skuId)) removals.add(skuId);
    for (const [skuId, groups] of inherited) {
      if (!listed.has(skuId) && !direct.has(skuId)) {
        plan.unchanged.push({ skuId, reason: `inherited from group ${groups.join(", ")}; a group's license is removed through the group (L15)` });
      }
    }
  }
  for (const skuId of removals) {
    const product = products.get(skuId);
    if (direct.has(skuId)) {
      // Only a replace's implicit removal meets one here: one named for removal is refused by productRefusal.
      if (product?.kind === "selfService") {
        plan.unchanged.push({ skuId, reason: "a self-service purchase: an admin cannot remove it (take the subscription over in the Microsoft 365 admin center)" });
        continue;
      }
      plan.remove.push(skuId);
    } else if (inherited.has(skuId)) {
      return fail(licenseErrors.groupInherited(skuId, inherited.get(skuId) ?? []));
    } else {
      plan.unchanged.push({ skuId, reason: "not assigned" });
    }
  }

  if (plan.add.length === 0 && plan.remove.length === 0) return { ok: true, plan, call: null, newUnits: [], freedUnits: [] };

  if (user.userType?.toLowerCase() === "guest") {
    const mayChange = actor.type === "system" ? plan.add.length === 0 : actor.directoryRoles.includes("Global Administrator");
    if (!mayChange) return fail(licenseErrors.guestNeedsGlobalAdministrator(user.id));
  }
  if (plan.add.length > 0 && !user.usageLocation) return fail(licenseErrors.usageLocationMissing(user.id));

  const before = statesOf(user);
  const after = statesAfter(before, plan);
  const violation = firstViolation(rules, enabledPlans(before, products), enabledPlans(after, products));
  if (violation) {
    const names = planNames(catalog);
    return fail(
      violation.kind === "mutuallyExclusive"
        ? licenseErrors.conflictingPlans(violation.servicePlanIds, names, violation.advice)
        : licenseErrors.missingPrerequisite(violation.servicePlanId, violation.requiresAnyOf, names, violation.advice),
    );
  }

  const consumedBefore = consumedSkus(before);
  const consumedAfter = consumedSkus(after);
  return {
    ok: true,
    plan,
    call: { userId: user.id, addLicenses: plan.add, removeLicenses: plan.remove },
    newUnits: [...consumedAfter].filter((s) => !consumedBefore.has(s)),
    freedUnits: [...consumedBefore].filter((s) => !consumedAfter.has(s)),
  };
}

/** The license states the plan would leave (direct ones replaced or removed; inherited ones kept). */
export function statesAfter(before: readonly GraphLicenseState[], plan: ChangePlan): GraphLicenseState[] {
  const touched = new Set([...plan.remove, ...plan.add.map((a) => a.skuId)]);
  const kept = before.filter((s) => s.assignedByGroup !== null || !touched.has(s.skuId));
  const added = plan.add.map((a): GraphLicenseState => ({
    skuId: a.skuId, assignedByGroup: null, disabledPlans: a.disabledPlans, state: "Active", error: null, lastUpdatedDateTime: null,
  }));
  return [...kept, ...added];
}

/** A user's licenses as the audit trail records them (old and new state, L16). */
export function licenseSnapshot(states: readonly GraphLicenseState[]): { skuId: string; assignedByGroup: string | null; disabledPlans: string[]; active: boolean }[] {
  return states.map((s) => ({ skuId: s.skuId, assignedByGroup: s.assignedByGroup, disabledPlans: s.disabledPlans, active: isActive(s) }));
}

function fail(error: AppError): PlannedChange {
  return { ok: false, error };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a);
  return x.size === new Set(b).size && b.every((v) => x.has(v));
}
