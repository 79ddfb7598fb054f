import type { GraphUser } from "./graph-licensing.js";
import { assignedDateTimeOf, isActive, productIndex, statesOf, trialExpiry } from "./license-state.js";
import type { Catalog, UserLicense, UserSummary } from "./model.js";
import { productDisplayName } from "./product-data.js";

/**
 * GET /users/{userId}/licenses: each license with its service plans on or off, whether it is
 * direct or inherited from groups (L15), and for trials when it expires (L11: 90 days after it
 * was assigned).
 */
export function userSummary(user: GraphUser): UserSummary {
  return {
    id: user.id,
    displayName: user.displayName,
    userPrincipalName: user.userPrincipalName,
    mail: user.mail,
    userType: user.userType,
    accountEnabled: user.accountEnabled,
    usageLocation: user.usageLocation,
    skuIds: user.assignedLicenses.map((l) => l.skuId),
  };
}

export function userLicenses(user: GraphUser, catalog: Catalog, now: Date): UserLicense[] {
  const products = productIndex(catalog);
  const bySku = new Map<string, ReturnType<typeof statesOf>>();
  for (const s of statesOf(user)) bySku.set(s.skuId, [...(bySku.get(s.skuId) ?? []), s]);
  return [...bySku].map(([skuId, states]): UserLicense => {
    const product = products.get(skuId);
    const direct = states.find((s) => s.assignedByGroup === null);
    const shown = direct ?? states[0];
    const active = states.filter(isActive);
    const assignedDateTime = assignedDateTimeOf(user, skuId, products);
    return {
      skuId,
      skuPartNumber: product?.skuPartNumber ?? skuId,
      displayName: product ? product.displayName : productDisplayName(skuId),
      kind: product?.kind ?? null,
      direct: direct !== undefined,
      groups: states.flatMap((s) => (s.assignedByGroup ? [s.assignedByGroup] : [])),
      state: shown?.state ?? null,
      error: shown?.error && shown.error !== "None" ? shown.error : null,
      servicePlans: (product?.servicePlans ?? []).map((p) => ({
        servicePlanId: p.servicePlanId,
        servicePlanName: p.servicePlanName,
        enabled: active.some((s) => !s.disabledPlans.includes(p.servicePlanId)),
      })),
      disabledPlans: direct?.disabledPlans ?? [],
      assignedDateTime,
      trial: product?.kind === "trial" && assignedDateTime ? trialExpiry(assignedDateTime, now) : null,
    };
  });
}
