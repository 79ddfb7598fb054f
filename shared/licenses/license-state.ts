import type { Catalog, Product } from "./model.js";
import type { GraphLicenseState, GraphUser } from "./graph-licensing.js";

/**
 * Reading a user's licenses from Graph's `licenseAssignmentStates` (direct: assignedByGroup null;
 * inherited: the group's id). Pure functions shared by assignment, the user view and the reports.
 */
export const TRIAL_DAYS = 90;

/** Error values that mean "no error" (null is documented; "None" is what Graph returns in practice). */
export function isErrorFree(error: string | null): boolean {
  return error === null || error === "" || error === "None";
}

/** A state that switches its plans on and consumes a unit. */
export function isActive(s: GraphLicenseState): boolean {
  const state = s.state ?? "Active";
  return (state === "Active" || state === "ActiveWithError") && isErrorFree(s.error);
}

/** The user's license states; users read without states (older tenants) count their assignedLicenses as direct. */
export function statesOf(user: GraphUser): GraphLicenseState[] {
  if (user.licenseAssignmentStates.length > 0 || user.assignedLicenses.length === 0) return user.licenseAssignmentStates;
  return user.assignedLicenses.map((l) => ({ skuId: l.skuId, assignedByGroup: null, disabledPlans: l.disabledPlans, state: "Active", error: null, lastUpdatedDateTime: null }));
}

/** Direct assignments: skuId -> disabled plans. */
export function directLicenses(user: GraphUser): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const s of statesOf(user)) if (s.assignedByGroup === null) out.set(s.skuId, s.disabledPlans);
  return out;
}

/** Inherited assignments: skuId -> group ids. */
export function groupLicenses(user: GraphUser): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const s of statesOf(user)) {
    if (s.assignedByGroup === null) continue;
    out.set(s.skuId, [...(out.get(s.skuId) ?? []), s.assignedByGroup]);
  }
  return out;
}

export function productIndex(catalog: Catalog): Map<string, Product> {
  return new Map(catalog.products.map((p) => [p.skuId, p]));
}

/** Service plans the given states switch on. */
export function enabledPlans(states: readonly GraphLicenseState[], products: ReadonlyMap<string, Product>): Set<string> {
  const out = new Set<string>();
  for (const s of states) {
    if (!isActive(s)) continue;
    for (const p of products.get(s.skuId)?.servicePlans ?? []) if (!s.disabledPlans.includes(p.servicePlanId)) out.add(p.servicePlanId);
  }
  return out;
}

/** Skus the user consumes a unit of (an active direct or inherited assignment). */
export function consumedSkus(states: readonly GraphLicenseState[]): Set<string> {
  return new Set(states.filter(isActive).map((s) => s.skuId));
}

/**
 * When a license was assigned: Graph has no date on licenseAssignmentStates, so it is read from
 * `assignedPlans[].assignedDateTime` of the product's plans. Plans the product shares with another
 * license of the user are used only when it has none of its own; the latest date wins (a trial is
 * never ended early because of an older license sharing its plans).
 */
export function assignedDateTimeOf(user: GraphUser, skuId: string, products: ReadonlyMap<string, Product>): string | null {
  const plans = new Set((products.get(skuId)?.servicePlans ?? []).map((p) => p.servicePlanId));
  if (plans.size === 0) return null;
  const others = new Set<string>();
  for (const s of statesOf(user)) {
    if (s.skuId === skuId) continue;
    for (const p of products.get(s.skuId)?.servicePlans ?? []) others.add(p.servicePlanId);
  }
  const dated = user.assignedPlans.filter((p) => plans.has(p.servicePlanId) && p.assignedDateTime);
  const own = dated.filter((p) => !others.has(p.servicePlanId));
  const pick = (own.length ? own : dated).map((p) => p.assignedDateTime as string).sort();
  return pick[pick.length - 1] ?? null;
}

export function trialExpiry(assignedDateTime: string, now: Date): { expiresAt: string; expired: boolean } {
  const expires = new Date(Date.parse(assignedDateTime) + TRIAL_DAYS * 86_400_000);
  return { expiresAt: expires.toISOString(), expired: now.getTime() >= expires.getTime() };
}

export function planNames(catalog: Catalog): Map<string, string> {
  const names = new Map<string, string>();
  for (const p of catalog.products) for (const sp of p.servicePlans) names.set(sp.servicePlanId, sp.servicePlanName);
  return names;
}
