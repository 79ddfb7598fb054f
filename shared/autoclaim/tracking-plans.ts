import { AppError } from "../errors/app-error.js";
import type { LicenseAssignments } from "../licenses/assign.js";
import type { GraphUser } from "../licenses/graph-licensing.js";
import { directLicenses } from "../licenses/license-state.js";
import type { Catalog, Product } from "../licenses/model.js";
import { KNOWN_APPS } from "./apps.js";
import { AUTO_CLAIM_ACTOR } from "./license-access.js";

/**
 * L12: the free tracking plans (seed 000: "the Microsoft Flow Free Plan is used only for tracking
 * purposes ... if you disable it, it becomes enabled again when a user logs in"). At a user's
 * sign-in to the app the plan is assigned, and assigned again (all its services on) after an
 * admin removed or disabled it - whatever the auto-claim switch (A1) says. Shipped as data: Graph
 * does not say which free product tracks which app.
 */
export const FREE_TRACKING_PLANS: readonly { appId: string; skuPartNumbers: readonly string[] }[] = [
  { appId: KNOWN_APPS.powerAutomate.appId, skuPartNumbers: ["FLOW_FREE"] },
  { appId: KNOWN_APPS.powerBi.appId, skuPartNumbers: ["POWER_BI_STANDARD"] },
];

/** The tenant's free tracking product for this app, if it subscribes to one. */
export function trackingProductFor(appId: string, catalog: Catalog): Product | undefined {
  const entry = FREE_TRACKING_PLANS.find((e) => e.appId === appId.toLowerCase());
  if (!entry) return undefined;
  return catalog.products.find((p) => entry.skuPartNumbers.includes(p.skuPartNumber) && p.status !== "Deleted");
}

export type TrackingOutcome = { skuId: string; outcome: "assigned" | "re-enabled" | "present" | "failed"; code?: string; reason?: string };

export async function ensureTrackingPlan(
  assignments: LicenseAssignments,
  tenantId: string,
  user: GraphUser,
  product: Product,
  context: Record<string, unknown>,
): Promise<TrackingOutcome> {
  const held = user.assignedLicenses.find((l) => l.skuId === product.skuId);
  const direct = directLicenses(user).has(product.skuId);
  if (held && (held.disabledPlans.length === 0 || !direct)) return { skuId: product.skuId, outcome: "present" };
  try {
    await assignments.assignLicenses({
      tenantId,
      actor: AUTO_CLAIM_ACTOR,
      userId: user.id,
      ...(held ? { setPlans: [{ skuId: product.skuId, disabledPlans: [] }] } : { add: [{ skuId: product.skuId, disabledPlans: [] }] }),
      reason: "free tracking plan at sign-in (L12)",
      context,
      graphMode: "background",
    });
    return { skuId: product.skuId, outcome: held ? "re-enabled" : "assigned" };
  } catch (err) {
    if (err instanceof AppError && !err.transient) return { skuId: product.skuId, outcome: "failed", code: err.code, reason: `${err.code}: ${err.message}` };
    throw err;
  }
}
