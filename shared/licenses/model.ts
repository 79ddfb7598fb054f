import { z } from "zod";
import { objectIdSchema, tenantIdSchema } from "../http/conventions.js";

/**
 * The shapes of license administration (section L), one schema per shape: the HTTP contracts in
 * endpoints.ts and the use-cases share them. Ids are GUIDs; they are compared in lower case.
 */
export const skuIdSchema = z.guid({ message: "must be a product (SKU) id (GUID)" }).transform((s) => s.toLowerCase());
export const servicePlanIdSchema = z.guid({ message: "must be a service plan id (GUID)" }).transform((s) => s.toLowerCase());
export const userIdSchema = objectIdSchema.transform((s) => s.toLowerCase());

/** L1: paid, trial, free (tracking only), self-service purchase (an admin cannot assign it: L10). */
export const productKindSchema = z.enum(["paid", "trial", "free", "selfService"]);
export type ProductKind = z.infer<typeof productKindSchema>;

export const capabilityStatusSchema = z.enum(["Enabled", "Warning", "Suspended", "Deleted", "LockedOut"]);

export const servicePlanSchema = z.object({
  servicePlanId: z.string(),
  servicePlanName: z.string(),
  provisioningStatus: z.string(),
  appliesTo: z.string(),
});
export type ServicePlan = z.infer<typeof servicePlanSchema>;

export const productSchema = z.object({
  skuId: z.string(),
  skuPartNumber: z.string(),
  displayName: z.string(),
  kind: productKindSchema,
  status: capabilityStatusSchema,
  /** When the subscription next changes state if not renewed (earliest of its subscriptions). */
  renewalDate: z.string().nullable(),
  /** Enabled + warning units. */
  total: z.number().int(),
  /** Consumed units. */
  assigned: z.number().int(),
  /** total - assigned (0 when the product is suspended, deleted or locked out). */
  available: z.number().int(),
  appliesTo: z.string(),
  servicePlans: z.array(servicePlanSchema),
});
export type Product = z.infer<typeof productSchema>;

export const catalogSchema = z.object({
  tenantId: z.string(),
  refreshedAt: z.string(),
  products: z.array(productSchema),
});
export type Catalog = z.infer<typeof catalogSchema>;

/** A license to add: all service plans on unless listed in `disabledPlans` (L5). */
export const addLicenseSchema = z
  .object({
    skuId: skuIdSchema,
    disabledPlans: z.array(servicePlanIdSchema).max(100).optional(),
  })
  .strict();
export type AddLicense = z.infer<typeof addLicenseSchema>;

/** A license whose service plans are set explicitly (L5): the only way a held license is sent again. */
/** L5: a held license's plans to switch off (exactly these); left out, the plans stay as they are. */
export const setPlansSchema = z.object({ skuId: skuIdSchema, disabledPlans: z.array(servicePlanIdSchema).max(100).optional() });
export type SetPlans = z.infer<typeof setPlansSchema>;

const noSkuTwice = (body: { addLicenses: { skuId: string }[]; removeLicenses?: string[] }, ctx: z.RefinementCtx) => {
  const added = body.addLicenses.map((a) => a.skuId);
  const seen = new Set<string>();
  added.forEach((sku, i) => {
    if (seen.has(sku)) ctx.addIssue({ code: "custom", path: ["addLicenses", i, "skuId"], message: "the same product is listed twice" });
    seen.add(sku);
  });
  (body.removeLicenses ?? []).forEach((sku, i) => {
    if (seen.has(sku)) ctx.addIssue({ code: "custom", path: ["removeLicenses", i], message: "a product cannot be added and removed in one request" });
  });
};

/** L3, L14: Graph-shaped. A license the user already holds directly is not sent again (it would reset its plans). */
export const assignLicenseBodySchema = z
  .object({
    addLicenses: z.array(addLicenseSchema).max(50).default([]),
    removeLicenses: z.array(skuIdSchema).max(50).default([]),
  })
  .strict()
  .superRefine(noSkuTwice)
  .refine((b) => b.addLicenses.length + b.removeLicenses.length > 0, { message: "add or remove at least one license", path: ["addLicenses"] });

/** L5: switch service plans of a license the user holds directly; the list replaces the current one. */
/**
 * L5's PATCH body, a JSON merge patch: `disabledPlans` replaces the list; null removes it (the default:
 * every plan on); left out, nothing changes (the answer says so, after the same checks).
 */
export const setPlansBodySchema = z.object({ disabledPlans: z.array(servicePlanIdSchema).max(100).nullable().optional() }).strict();

export const MAX_USERS_PER_PRODUCT_ASSIGNMENT = 20;
/** L2: one product to up to 20 users. Duplicate ids are processed once and answered once. */
export const productAssignmentBodySchema = z.object({
  userIds: z
    .array(userIdSchema)
    .min(1, { message: "name at least one user" })
    .max(MAX_USERS_PER_PRODUCT_ASSIGNMENT, { message: `at most ${MAX_USERS_PER_PRODUCT_ASSIGNMENT} users per request (the limit of L2)` }),
  disabledPlans: z.array(servicePlanIdSchema).max(100).optional(),
}).strict();

export const MAX_USERS_PER_BULK = 500;
export const bulkModeSchema = z.enum(["add", "replace"]);
export type BulkMode = z.infer<typeof bulkModeSchema>;

/** L4 (+ L17 dryRun): "add" keeps existing licenses; "replace" removes the direct ones not listed. */
export const bulkBodySchema = z
  .object({
    userIds: z.array(userIdSchema).min(1).max(MAX_USERS_PER_BULK, { message: `at most ${MAX_USERS_PER_BULK} users per request` }),
    mode: bulkModeSchema,
    addLicenses: z.array(addLicenseSchema).max(50),
    removeLicenses: z.array(skuIdSchema).max(50).default([]),
    dryRun: z.boolean().default(false),
  })
  .strict()
  .superRefine(noSkuTwice)
  // "replace" with nothing listed removes every direct license (asked for); "add" with nothing asks for nothing.
  .refine((b) => b.mode === "replace" || b.addLicenses.length + b.removeLicenses.length > 0, { message: "add or remove at least one license", path: ["addLicenses"] });
export type BulkBody = z.infer<typeof bulkBodySchema>;

export const licenseRouteParamsSchema = z.object({ tenantId: tenantIdSchema });
export const productRouteParamsSchema = z.object({ tenantId: tenantIdSchema, skuId: skuIdSchema });
export const userRouteParamsSchema = z.object({ tenantId: tenantIdSchema, userId: userIdSchema });
export const userLicenseRouteParamsSchema = z.object({ tenantId: tenantIdSchema, userId: userIdSchema, skuId: skuIdSchema });

/** One license of a user (L5, L11, L15): its plans on/off, direct or by group, trial expiry. */
export const userLicenseSchema = z.object({
  skuId: z.string(),
  skuPartNumber: z.string(),
  displayName: z.string(),
  kind: productKindSchema.nullable(),
  /** Assigned directly to the user (removable here). */
  direct: z.boolean(),
  /** Groups the license is inherited from (removable only through the group: L15). */
  groups: z.array(z.string()),
  state: z.string().nullable(),
  error: z.string().nullable(),
  servicePlans: z.array(z.object({ servicePlanId: z.string(), servicePlanName: z.string(), enabled: z.boolean() })),
  disabledPlans: z.array(z.string()),
  assignedDateTime: z.string().nullable(),
  trial: z.object({ expiresAt: z.string(), expired: z.boolean() }).nullable(),
});
export type UserLicense = z.infer<typeof userLicenseSchema>;

export const userSummarySchema = z.object({
  id: z.string(),
  displayName: z.string().nullable(),
  userPrincipalName: z.string().nullable(),
  mail: z.string().nullable(),
  userType: z.string().nullable(),
  accountEnabled: z.boolean().nullable(),
  usageLocation: z.string().nullable(),
  skuIds: z.array(z.string()),
});
export type UserSummary = z.infer<typeof userSummarySchema>;

export const userLicensesSchema = z.object({ user: userSummarySchema, licenses: z.array(userLicenseSchema) });

/** What one user's change is, or would be (L17). */
export const changePlanSchema = z.object({
  add: z.array(z.object({ skuId: z.string(), disabledPlans: z.array(z.string()) })),
  remove: z.array(z.string()),
  /** Left alone, with the reason (already held, inherited from a group, self-service, ...). */
  unchanged: z.array(z.object({ skuId: z.string(), reason: z.string() })),
});
export type ChangePlan = z.infer<typeof changePlanSchema>;
