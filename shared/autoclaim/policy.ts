import { z } from "zod";
import { oneLineTextSchema } from "../http/conventions.js";
import { servicePlanIdSchema, skuIdSchema } from "../licenses/model.js";
import { POLICY_APP_IDS, POLICY_APPS } from "./apps.js";

/** A2/A3: a primary product and at most this many backups, used in order. */
export const MAX_BACKUP_PRODUCTS = 4;

const policyAppList = POLICY_APPS.map((a) => `${a.displayName} ${a.appId}`).join(", ");

/** An app a policy may name (A): one of `POLICY_APPS`, as stored and answered (lower case). */
export const policyAppIdEnum = z.enum(POLICY_APP_IDS).describe(`Application (client) id of the app whose users claim licenses: ${policyAppList}`);

/** The app of a new policy: any case accepted, stored lower case. */
export const policyAppIdSchema = z
  .preprocess((v) => (typeof v === "string" ? v.toLowerCase() : v), z.enum(POLICY_APP_IDS, { message: `must be one of the apps auto-claim serves: ${policyAppList}` }))
  .describe(`Application (client) id of the app whose users claim licenses (any case): ${policyAppList}`);

export const policyProductSchema = z
  .object({
    skuId: skuIdSchema,
    /** A2/A4: the product's apps and services to leave off when it is claimed (all on by default). */
    disabledPlans: z.array(servicePlanIdSchema).max(100).default([]),
  })
  .strict();
export type PolicyProduct = z.infer<typeof policyProductSchema>;

const productsSchema = z
  .array(policyProductSchema)
  .min(1, { message: "a policy keeps at least one product; disable the policy to stop claims" })
  .max(1 + MAX_BACKUP_PRODUCTS, { message: `a primary product and at most ${MAX_BACKUP_PRODUCTS} backup products` })
  .superRefine((products, ctx) => {
    const seen = new Set<string>();
    products.forEach((p, i) => {
      if (seen.has(p.skuId)) ctx.addIssue({ code: "custom", path: [i, "skuId"], message: "the same product is listed twice" });
      seen.add(p.skuId);
      if (new Set(p.disabledPlans).size !== p.disabledPlans.length) {
        ctx.addIssue({ code: "custom", path: [i, "disabledPlans"], message: "a service plan is listed twice" });
      }
    });
  })
  .describe("products[0] is the primary product; the others are backups, used in this order when the ones before have no license left (A3)");

/** Shown in admin portals, reports and the audit trail: one line of text, written as it reads. */
const nameSchema = oneLineTextSchema(120);

export const createPolicyBodySchema = z
  .object({ name: nameSchema, appId: policyAppIdSchema, products: productsSchema, enabled: z.boolean().default(true) })
  .strict();
export type CreatePolicyBody = z.infer<typeof createPolicyBodySchema>;

/** A JSON merge patch (RFC 7396): `products` replaces the whole list; the app of a policy does not change. */
export const patchPolicyBodySchema = z
  .object({ name: nameSchema.optional(), products: productsSchema.optional(), enabled: z.boolean().optional() })
  .strict()
  .refine((b) => b.name !== undefined || b.products !== undefined || b.enabled !== undefined, { message: "change at least one of name, products, enabled" });
export type PatchPolicyBody = z.infer<typeof patchPolicyBodySchema>;

export const policyIdSchema = z.guid({ message: "must be a policy id (GUID)" }).transform((s) => s.toLowerCase());

/** What is stored (container `policies`, partition key /tenantId). */
export const policyDocumentSchema = z.object({
  id: z.string(),
  type: z.literal("policy"),
  tenantId: z.string(),
  name: z.string(),
  // Read as stored: a policy saved before the apps were an enumeration still reads (its app simply never claims).
  appId: z.string(),
  products: z.array(z.object({ skuId: z.string(), disabledPlans: z.array(z.string()) })),
  enabled: z.boolean(),
  createdAt: z.string(),
  createdBy: z.string(),
  updatedAt: z.string(),
  updatedBy: z.string(),
});
export type PolicyDocument = z.infer<typeof policyDocumentSchema>;

export const policyProductViewSchema = z.object({
  skuId: z.string(),
  skuPartNumber: z.string().nullable(),
  displayName: z.string().nullable(),
  role: z.enum(["primary", "backup"]),
  disabledPlans: z.array(z.string()),
  available: z.number().int().nullable().describe("Licenses available now (Graph subscribedSkus, at most 60 s old); null when unknown"),
  total: z.number().int().nullable(),
});

export const policyStatusSchema = z.enum(["enabled", "disabled"]);

export const policyViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  appId: policyAppIdEnum,
  appDisplayName: z.string().nullable(),
  status: policyStatusSchema,
  enabled: z.boolean(),
  products: z.array(policyProductViewSchema),
  createdAt: z.string(),
  createdBy: z.string(),
  updatedAt: z.string(),
  updatedBy: z.string(),
});
export type PolicyView = z.infer<typeof policyViewSchema>;
