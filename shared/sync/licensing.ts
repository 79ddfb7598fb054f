import type { AssignedLicense, PlanClass, SkuFacts, TenantFacts } from "./model.js";

/**
 * Which licenses give Dataverse access (D2). Graph publishes no such table, so it ships here as
 * data: a service plan of a Power Platform / Dynamics 365 service grants access, except the
 * Power Platform and Dataverse plans that come with Microsoft 365 / Office 365 licenses (the
 * "… for Office 365" use rights), which count only for on-demand adds.
 *
 * Trials and free self-service sign-ups (the "viral" plans: POWERAPPS_P2_VIRAL, FLOW_P2_VIRAL,
 * DYN365_CDS_VIRAL of Power Apps Plan 2 Trial and Power Automate Free) are Power Platform
 * licenses in their own right, not Microsoft 365 use rights: they grant access for as long as
 * they are assigned (L11 removes a trial when it expires), like any other license.
 */

/**
 * Service plans (by `servicePlanName`, the only stable name `subscribedSkus` gives) of the Power
 * Platform and Dynamics 365 services that give access to a Dataverse environment: Power Apps,
 * Power Automate, Dataverse (CDS) and Dynamics 365 apps, Copilot Studio.
 */
export const ACCESS_GRANTING_PLAN_PREFIXES: readonly string[] = [
  "POWERAPPS_", "FLOW_", "POWER_AUTOMATE_", "POWERAUTOMATE_", "DYN365_", "D365_", "DYNAMICS_", "CRM", "CDS_", "CCIBOTS_",
  "VIRTUAL_AGENT_", "POWER_VIRTUAL_AGENTS_", "PROJECT_FOR_PROJECT_OPERATIONS",
];

/**
 * The Power Platform and Dataverse service plans of Microsoft 365 / Office 365 licenses (E1/E3/E5,
 * F1/F3, Business Basic/Standard/Premium, A1/A3/A5, and their government variants), by
 * servicePlanName: on-demand adds only. Names not listed here are caught by
 * {@link MICROSOFT_365_PLAN_SEGMENT} when they have a Power Platform prefix.
 */
export const FREE_M365_DATAVERSE_PLANS: ReadonlySet<string> = new Set([
  // Dataverse (Common Data Service) for Microsoft 365 / Teams.
  "DYN365_CDS_O365_P1", "DYN365_CDS_O365_P2", "DYN365_CDS_O365_P3", "DYN365_CDS_O365_F1",
  "CDS_O365_P1", "CDS_O365_P2", "CDS_O365_P3", "CDS_O365_F1", "CDS_O365_E5_KM", "DYN365_CDS_FOR_PROJECT_P1",
  // Power Apps for Office 365 (P1: E1/Business, P2: E3/A3, P3: E5/A5, S1: F3).
  "POWERAPPS_O365_P1", "POWERAPPS_O365_P2", "POWERAPPS_O365_P3", "POWERAPPS_O365_S1",
  // Power Automate for Office 365.
  "FLOW_O365_P1", "FLOW_O365_P2", "FLOW_O365_P3", "FLOW_O365_S1",
  // Power Virtual Agents (Copilot Studio) for Office 365.
  "POWER_VIRTUAL_AGENTS_O365_P1", "POWER_VIRTUAL_AGENTS_O365_P2", "POWER_VIRTUAL_AGENTS_O365_P3", "POWER_VIRTUAL_AGENTS_O365_F1",
  // Project Plan 1's Power Automate, which comes with its free Dataverse plan (DYN365_CDS_FOR_PROJECT_P1).
  "POWER_AUTOMATE_FOR_PROJECT_P1",
]);

/**
 * An O365 or M365 segment in a Power Platform plan's name marks a Microsoft 365 use right
 * (e.g. POWERAPPS_O365_P3_GOV, FLOW_O365_S1_GOV, DYN365_CDS_O365_F1_GCC, CDS_O365_F1_GCC).
 */
export const MICROSOFT_365_PLAN_SEGMENT = /(?:^|_)(?:O365|M365)(?:_|$)/;

/** Tenant-level Marketing products (skuPartNumber): users need no license of their own for on-demand adds. */
export const TENANT_MARKETING_SKUS: ReadonlySet<string> = new Set([
  "DYN365_MARKETING_APP", "DYN365_MARKETING_APPLICATION_ADDON", "DYN365_MARKETING_SANDBOX_APPLICATION_ADDON",
  "DYN365_MARKETING_50K_CONTACT_ADDON", "DYN365_CUSTOMER_INSIGHTS_ENGAGEMENT_CUSTOMER_ATTACH",
]);

export interface SubscribedSkuInput {
  skuId: string;
  skuPartNumber: string;
  capabilityStatus: string;
  servicePlans: { servicePlanId: string; servicePlanName: string }[];
}

export function classifyPlan(plan: SubscribedSkuInput["servicePlans"][number]): PlanClass {
  const name = plan.servicePlanName.toUpperCase();
  if (FREE_M365_DATAVERSE_PLANS.has(name)) return "freeDataverse";
  if (!ACCESS_GRANTING_PLAN_PREFIXES.some((prefix) => name.startsWith(prefix))) return "none";
  return MICROSOFT_365_PLAN_SEGMENT.test(name) ? "freeDataverse" : "grantsAccess";
}

/** The tenant's products as the rules see them (from `GET /subscribedSkus`). */
export function classifySkus(skus: readonly SubscribedSkuInput[]): { skus: Record<string, SkuFacts>; marketing: boolean } {
  const out: Record<string, SkuFacts> = {};
  let marketing = false;
  for (const sku of skus) {
    const usable = sku.capabilityStatus === "Enabled" || sku.capabilityStatus === "Warning";
    const plans: Record<string, PlanClass> = {};
    for (const p of sku.servicePlans) plans[p.servicePlanId.toLowerCase()] = classifyPlan(p);
    out[sku.skuId.toLowerCase()] = { skuId: sku.skuId.toLowerCase(), partNumber: sku.skuPartNumber, usable, plans };
    if (usable && TENANT_MARKETING_SKUS.has(sku.skuPartNumber)) marketing = true;
  }
  return { skus: out, marketing };
}

export interface LicenseStanding {
  /** Products with at least one enabled plan that grants access. */
  granting: string[];
  /** Products whose only Dataverse plans are Microsoft 365's free ones. */
  freeDataverseOnly: string[];
  /** Everything else the user holds (no Dataverse access from it). */
  other: string[];
  /** Of those, products that would grant access but whose granting service plans are all disabled for the user (ids). */
  grantingPlansDisabled: { product: string; skuId: string; servicePlanIds: string[] }[];
}

const NO_PLANS: ReadonlySet<string> = new Set();

/** Sorts a user's licenses by what they give in Dataverse; disabled plans and unusable products give nothing. */
export function licenseStanding(licenses: readonly AssignedLicense[], tenant: Pick<TenantFacts, "skus">): LicenseStanding {
  const standing: LicenseStanding = { granting: [], freeDataverseOnly: [], other: [], grantingPlansDisabled: [] };
  for (const license of licenses) {
    const sku = tenant.skus[license.skuId.toLowerCase()];
    const name = sku?.partNumber ?? license.skuId;
    if (!sku?.usable) {
      standing.other.push(name);
      continue;
    }
    const disabled = license.disabledPlans.length === 0 ? NO_PLANS : new Set(license.disabledPlans.map((p) => p.toLowerCase()));
    let grants = false;
    let free = false;
    const grantingOff: string[] = [];
    for (const [planId, cls] of Object.entries(sku.plans)) {
      if (disabled.has(planId)) {
        if (cls === "grantsAccess") grantingOff.push(planId);
        continue;
      }
      if (cls === "grantsAccess") grants = true;
      else if (cls === "freeDataverse") free = true;
    }
    if (grants) standing.granting.push(name);
    else if (free) standing.freeDataverseOnly.push(name);
    else standing.other.push(name);
    if (!grants && grantingOff.length > 0) standing.grantingPlansDisabled.push({ product: name, skuId: license.skuId.toLowerCase(), servicePlanIds: grantingOff });
  }
  return standing;
}
