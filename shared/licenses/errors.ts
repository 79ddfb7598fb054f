import { AppError } from "../errors/app-error.js";
import type { Product } from "./model.js";
import { READ_LAG_CODE } from "./recent-writes.js";

/**
 * The license rules' errors, one constructor each, so the checks made before Graph and the
 * answers Graph gives map to the same problem documents (codes listed in docs/errors.md).
 */
const named = (id: string, names: ReadonlyMap<string, string>) => ({ servicePlanId: id, servicePlanName: names.get(id) ?? id });

/** "Display name (PART_NUMBER)", or the part number alone when the product has no other name. */
export const productLabel = (p: Pick<Product, "skuPartNumber" | "displayName">) =>
  p.displayName && p.displayName !== p.skuPartNumber ? `${p.displayName} (${p.skuPartNumber})` : p.skuPartNumber;

export const licenseErrors = {
  notEnoughLicenses: (product: Pick<Product, "skuId" | "skuPartNumber" | "displayName">, shortBy: number, available: number) =>
    new AppError(
      "businessRule",
      `Not enough licenses of ${productLabel(product)}: ${shortBy} short (${available} available). Buy more licenses or free some up, then try again.`,
      { code: "not-enough-licenses", extensions: { skuId: product.skuId, skuPartNumber: product.skuPartNumber, shortBy, available } },
    ),
  usageLocationMissing: (userId: string) =>
    new AppError("businessRule", "The user has no usage location, which a license needs. Set the user's usage location (country) in Microsoft Entra ID, then try again.", {
      code: "usage-location-missing",
      extensions: { userId },
    }),
  conflictingPlans: (planIds: readonly string[], names: ReadonlyMap<string, string>, advice?: string) =>
    new AppError(
      "businessRule",
      `These service plans cannot be on together: ${planIds.map((p) => names.get(p) ?? p).join(" and ")}. ${advice ?? "Review the services included with each license: switch one of them off, or remove one of the licenses, and try again."}`,
      { code: "conflicting-service-plans", extensions: { servicePlans: planIds.map((p) => named(p, names)) } },
    ),
  missingPrerequisite: (planId: string, requiresAnyOf: readonly string[], names: ReadonlyMap<string, string>, advice?: string) =>
    new AppError(
      "businessRule",
      `The service plan ${names.get(planId) ?? planId} needs one of ${requiresAnyOf.map((p) => names.get(p) ?? p).join(", ")}, which the user would not have. ${advice ?? "Assign a license that includes it (or switch it on) first, or switch this plan off."}`,
      { code: "missing-prerequisite-plan", extensions: { servicePlans: [named(planId, names)], requiresAnyOf: requiresAnyOf.map((p) => named(p, names)) } },
    ),
  selfService: (product: Pick<Product, "skuId" | "skuPartNumber" | "displayName">) =>
    new AppError(
      "businessRule",
      `${productLabel(product)} belongs to a self-service purchase subscription: an admin cannot assign or remove its licenses. Take the subscription over in the Microsoft 365 admin center (Billing > Your products); no public API does it. Once taken over it is an ordinary product here.`,
      { code: "self-service-subscription", extensions: { skuId: product.skuId, skuPartNumber: product.skuPartNumber } },
    ),
  unknownProduct: (skuId: string) =>
    new AppError("businessRule", `The product ${skuId} is not subscribed in this tenant; only this tenant's licenses can be assigned.`, {
      code: "unknown-product",
      extensions: { skuId },
    }),
  unknownServicePlan: (skuId: string, planId: string) =>
    new AppError("businessRule", `The service plan ${planId} is not part of the product ${skuId}.`, {
      code: "unknown-service-plan",
      extensions: { skuId, servicePlanId: planId },
    }),
  groupInherited: (skuId: string, groupIds: readonly string[]) =>
    new AppError(
      "conflict",
      `The license ${skuId} is inherited from group membership (${groupIds.join(", ")}) and cannot be removed or changed on the user directly. Remove the user from the group, or the license from the group.`,
      { code: "group-inherited-license", extensions: { skuId, groupIds } },
    ),
  licenseNotAssigned: (skuId: string) =>
    new AppError("conflict", `The user does not hold the license ${skuId} directly.`, { code: "license-not-assigned", extensions: { skuId } }),
  guestNeedsGlobalAdministrator: (userId: string) =>
    new AppError("forbidden", "The user is a guest: only a Global Administrator can change a guest's licenses.", {
      code: "guest-needs-global-administrator",
      extensions: { userId },
    }),
  /** Graph throttled (or was unavailable for) this user's change past the retry budget, before anything was done. */
  throttled: (upstreamStatus: number, retryAfterSeconds: number, what = "nothing was changed for this user") =>
    new AppError("unavailable", `Microsoft Graph is throttling or unavailable (${upstreamStatus}); ${what}. Try again later.`, {
      code: "throttled",
      retryAfterSeconds,
      extensions: { upstreamStatus, applied: false },
    }),
  /** L3 under Graph's read lag (recent-writes.ts): the read may not show a change made moments ago, and the change's outcome depends on it. */
  readLag: (userId: string, changedAt: string, retryAfterSeconds: number) =>
    new AppError(
      "unavailable",
      `This user's licenses were changed at ${changedAt} and Microsoft Graph's read does not show that change yet (its reads lag its writes); planned on either, this change would differ. Nothing was changed. Try again shortly.`,
      { code: READ_LAG_CODE, retryAfterSeconds, extensions: { userId, changedAt, applied: false } },
    ),
  userNotFound: (userId: string) => new AppError("notFound", `The user ${userId} was not found in Microsoft Entra ID.`, { code: "user-not-found", extensions: { userId } }),
};
