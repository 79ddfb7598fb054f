import { z } from "zod";
import { ACCESS } from "../auth/roles.js";
import { defineEndpoint } from "../http/endpoint.js";
import { acceptedSchemaOf, listQuerySchema, listResponseSchema, objectIdSchema, outcomeSchema, tenantIdSchema } from "../http/conventions.js";
import { auditRecordViewSchema } from "./audit-query.js";
import {
  assignLicenseBodySchema, bulkBodySchema, changePlanSchema, licenseRouteParamsSchema, productAssignmentBodySchema, productRouteParamsSchema,
  productSchema, setPlansBodySchema, userLicenseRouteParamsSchema, userLicensesSchema, userRouteParamsSchema, userSummarySchema,
} from "./model.js";
import { reportFormatSchema, reportJobSchema, reportJobStatusSchema } from "./report-jobs.js";
import { activeUserRowSchema, groupLicenseErrorRowSchema, unusedLicenseRowSchema } from "./reports.js";
import { licenseRulesDocumentSchema, licenseRulesPutBodySchema } from "./rules.js";
import { trackedProductSchema } from "./usage.js";
import { isGuid } from "../ids.js";

/** The HTTP contracts of license administration (section L); roles per P4 (shared/auth/roles.ts). */
const TAG = "Licenses";

const userResultWithPlanSchema = z.object({
  userId: z.string(),
  outcome: outcomeSchema,
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  plan: changePlanSchema.optional(),
});
const multiUserWithPlanSchema = z.object({ results: z.array(userResultWithPlanSchema) });
const shortageSchema = z.object({ skuId: z.string(), skuPartNumber: z.string(), shortBy: z.number().int(), available: z.number().int() });
/** L4/L17: the bulk answer, 200 and 207 alike (a dry run's too). */
const bulkResultSchema = multiUserWithPlanSchema.extend({ dryRun: z.boolean(), shortages: z.array(shortageSchema) });
const changeResponseSchema = z.object({ userId: z.string(), changed: z.boolean(), plan: changePlanSchema });
/** A 207 where Graph throttled a user past the retry budget (its `error.code` is `throttled`). */
/** The 403 and 404 of a change to one user's licenses. */
const ONE_USER_REFUSALS = {
  403: { description: "guest-needs-global-administrator (L9: a guest's licenses, by anyone but a Global Administrator; userId), or the caller's role (missing-role, wrong-tenant, tenant-not-onboarded)" },
  404: { description: "user-not-found (userId)" },
};

const throttledUsers = {
  "Retry-After":
    "When a user's change was throttled, waited too long for another change of the user, waited for Graph's read lag, or was not confirmed by Graph " +
    "(error codes throttled, unavailable, read-lag, outcome-unknown): the longest wait of those users, in seconds, before sending their changes again (read an outcome-unknown user's licenses first)",
};
/** What refuses a whole request about several users before Microsoft Graph is called (422, not a 207). */
const WHOLE_REQUEST_REFUSED =
  "not-enough-licenses (skuId, skuPartNumber, shortBy, available: fewer available licenses than the whole request needs), " +
  "self-service-subscription (L10: a product to add that is a self-service purchase; skuId, skuPartNumber), " +
  "unknown-service-plan (a disabled plan that is not part of its product; skuId, servicePlanId)";

export const productsList = defineEndpoint({
  name: "products-list",
  method: "GET",
  route: "tenants/{tenantId}/products",
  summary: "L1: the subscribed products with total, assigned and available licenses, kind, status, renewal date and service plans (at most 60 s old; `Cache-Control: no-cache` reads Microsoft Graph now).",
  requestHeaders: { "Cache-Control": "`no-cache`: read Microsoft Graph now instead of the catalog (at most 60 s old)" },
  tag: TAG,
  access: ACCESS.read,
  upstream: true,
  params: licenseRouteParamsSchema,
  query: listQuerySchema,
  responses: { 200: { description: "Products", schema: listResponseSchema(productSchema).extend({ refreshedAt: z.string() }) } },
});

export const productsGet = defineEndpoint({
  name: "products-get",
  method: "GET",
  route: "tenants/{tenantId}/products/{skuId}",
  summary: "L1: one product (at most 60 s old; `Cache-Control: no-cache` reads Microsoft Graph now).",
  requestHeaders: { "Cache-Control": "`no-cache`: read Microsoft Graph now instead of the catalog (at most 60 s old)" },
  tag: TAG,
  access: ACCESS.read,
  upstream: true,
  params: productRouteParamsSchema,
  responses: { 200: { description: "The product", schema: productSchema } },
});

export const productUserSchema = userSummarySchema.extend({ direct: z.boolean(), groups: z.array(z.string()) });

export const productsUsersList = defineEndpoint({
  name: "products-users-list",
  method: "GET",
  route: "tenants/{tenantId}/products/{skuId}/users",
  summary: "The users holding a product, directly or through groups.",
  tag: TAG,
  access: ACCESS.read,
  upstream: true,
  params: productRouteParamsSchema,
  query: listQuerySchema,
  responses: { 200: { description: "Users", schema: listResponseSchema(productUserSchema) } },
});

export const productsAssignmentsPost = defineEndpoint({
  name: "products-assignments-post",
  method: "POST",
  route: "tenants/{tenantId}/products/{skuId}/assignments",
  summary: "L2: assign one product to up to 20 users (optional service plans off). Users who hold it directly are skipped; duplicate ids are processed once.",
  tag: TAG,
  access: ACCESS.licenseWrite,
  upstream: true,
  params: productRouteParamsSchema,
  body: productAssignmentBodySchema,
  responses: {
    200: { description: "Every user succeeded or was skipped (per-user results and plans)", schema: multiUserWithPlanSchema },
    207: {
      description:
        "Some users failed (per-user results; `error.code` as in docs/errors.md, or throttled). A request refused as a whole before " +
        "Microsoft Graph is called is a 422, not a 207",
      schema: multiUserWithPlanSchema,
      headers: throttledUsers,
    },
    404: { description: "not-found: the product is not the tenant's (no subscription for it); nothing attempted" },
    422: { description: `The whole request is refused before Microsoft Graph is called, nothing attempted: ${WHOLE_REQUEST_REFUSED}` },
  },
});

export const usersList = defineEndpoint({
  name: "users-list",
  method: "GET",
  route: "tenants/{tenantId}/users",
  summary: "Users of the tenant, optionally those whose name, user principal name or mail starts with `search`.",
  tag: TAG,
  access: ACCESS.read,
  upstream: true,
  params: licenseRouteParamsSchema,
  query: listQuerySchema.extend({ search: z.string().trim().min(1).max(100).optional() }),
  responses: { 200: { description: "Users", schema: listResponseSchema(userSummarySchema) } },
});

export const usersLicensesGet = defineEndpoint({
  name: "users-licenses-get",
  method: "GET",
  route: "tenants/{tenantId}/users/{userId}/licenses",
  summary: "One user's licenses: each service plan on or off, direct or by group, trial expiry (L11).",
  tag: TAG,
  access: ACCESS.read,
  upstream: true,
  params: userRouteParamsSchema,
  responses: { 200: { description: "The user and their licenses", schema: userLicensesSchema } },
});

export const usersAssignLicensePost = defineEndpoint({
  name: "users-assignlicense-post",
  method: "POST",
  route: "tenants/{tenantId}/users/{userId}/assignLicense",
  summary: "L3/L14: add and remove licenses (Graph-shaped). A license the user already holds directly is never sent again (its plans are kept); change plans with PATCH .../licenses/{skuId}.",
  tag: TAG,
  access: ACCESS.licenseWrite,
  upstream: true,
  params: userRouteParamsSchema,
  body: assignLicenseBodySchema,
  responses: {
    200: { description: "Applied (or nothing to do)", schema: changeResponseSchema },
    ...ONE_USER_REFUSALS,
    409: { description: "group-inherited-license (L15: remove it from the group; skuId, groupIds), license-not-assigned (skuId)" },
    422: {
      description:
        "not-enough-licenses (skuId, skuPartNumber, shortBy, available), usage-location-missing (userId), conflicting-service-plans (servicePlans), " +
        "missing-prerequisite-plan (servicePlans, requiresAnyOf), unknown-product (skuId), self-service-subscription (skuId, skuPartNumber), " +
        "unknown-service-plan (skuId, servicePlanId) - docs/errors.md",
    },
  },
});

export const usersLicensesPatch = defineEndpoint({
  name: "users-licenses-patch",
  method: "PATCH",
  route: "tenants/{tenantId}/users/{userId}/licenses/{skuId}",
  summary:
    "L5: switch service plans of a license the user holds directly (a JSON merge patch); `disabledPlans` replaces the current list (empty or null: every " +
    "plan on; left out: nothing changes).",
  tag: TAG,
  access: ACCESS.licenseWrite,
  upstream: true,
  params: userLicenseRouteParamsSchema,
  body: setPlansBodySchema,
  responses: {
    200: { description: "Applied (or already so)", schema: changeResponseSchema },
    ...ONE_USER_REFUSALS,
    409: { description: "license-not-assigned (the user does not hold it directly; skuId), group-inherited-license (skuId, groupIds)" },
    422: {
      description:
        "unknown-service-plan (skuId, servicePlanId), conflicting-service-plans (servicePlans), missing-prerequisite-plan (servicePlans, requiresAnyOf), " +
        "self-service-subscription (skuId, skuPartNumber), unknown-product (skuId), usage-location-missing (userId) - docs/errors.md",
    },
  },
});

export const licensesBulkPost = defineEndpoint({
  name: "licenses-bulk-post",
  method: "POST",
  route: "tenants/{tenantId}/licenses/bulk",
  summary:
    "L4/L17: many users; mode \"add\" keeps existing licenses, \"replace\" removes the direct ones not listed (never inherited ones). `dryRun` lists " +
    "the per-user plan and changes nothing; it answers the status the real run would (200, 207 or 422).",
  tag: TAG,
  access: ACCESS.licenseWrite,
  upstream: true,
  params: licenseRouteParamsSchema,
  body: bulkBodySchema,
  responses: {
    200: { description: "Every user succeeded or was skipped - for a dry run (`dryRun: true`), every user would (nothing changed)", schema: bulkResultSchema },
    207: {
      description:
        "Some users failed - for a dry run, would fail (per-user results and plans; a dry run changes nothing). A request refused as a whole " +
        "before Microsoft Graph is called is a 422, not a 207, dry run or not",
      schema: bulkResultSchema,
      headers: throttledUsers,
    },
    422: {
      description:
        "The whole request is refused before Microsoft Graph is called, nothing attempted - a dry run answers the same: " +
        `${WHOLE_REQUEST_REFUSED}, unknown-product (a product to add the tenant has no subscription for; skuId)`,
    },
  },
});

export const licensesRulesGet = defineEndpoint({
  name: "licenses-rules-get",
  method: "GET",
  route: "tenants/{tenantId}/license-rules",
  summary: "L6: the conflict and prerequisite rules checked before Graph is called (the shipped defaults until edited). ETag for PUT.",
  tag: TAG,
  access: ACCESS.read,
  params: licenseRouteParamsSchema,
  responses: { 200: { description: "The rules", schema: licenseRulesDocumentSchema, headers: { ETag: "Version for If-Match" } } },
});

export const licensesRulesPut = defineEndpoint({
  name: "licenses-rules-put",
  ifMatch: true,
  method: "PUT",
  route: "tenants/{tenantId}/license-rules",
  summary: "L6: replace the rules table (If-Match required: the ETag from GET, \"default\" while never edited).",
  tag: TAG,
  access: ACCESS.licenseWrite,
  upstream: true,
  params: licenseRouteParamsSchema,
  body: licenseRulesPutBodySchema,
  responses: { 200: { description: "Saved", schema: licenseRulesDocumentSchema, headers: { ETag: "New version" } } },
});

export const reportsActiveUserLicensesGet = defineEndpoint({
  name: "reports-active-user-licenses-get",
  method: "GET",
  route: "tenants/{tenantId}/reports/active-user-licenses",
  summary: "L13: users licensed for Power Apps / Power Automate AND seen using them. CSV with `Accept: text/csv` or `?format=csv`, JSON otherwise; a job (202) for large tenants or with `Prefer: respond-async`.",
  tag: "Reports",
  requestHeaders: { Prefer: "`respond-async`: answer 202 with a report job to poll, whatever the tenant's size (large tenants always get a job)" },
  access: ACCESS.globalReports,
  upstream: true,
  params: licenseRouteParamsSchema,
  query: z.object({ format: reportFormatSchema.optional() }),
  responses: {
    200: {
      description: "The report (JSON; text/csv on request)",
      schema: z.object({ items: z.array(activeUserRowSchema), generatedAt: z.string() }),
      alsoAs: [{ contentType: "text/csv" }],
    },
    202: { description: "A job was started: poll Location", schema: acceptedSchemaOf(reportJobStatusSchema), headers: { Location: "The job" } },
  },
});

const jobParamsSchema = z.object({ tenantId: tenantIdSchema, jobId: z.guid().transform((id) => id.toLowerCase()) });

export const reportsJobsGet = defineEndpoint({
  name: "reports-jobs-get",
  method: "GET",
  route: "tenants/{tenantId}/reports/jobs/{jobId}",
  summary: "L13: a report job's status (`resultLocation` once it succeeded).",
  tag: "Reports",
  access: ACCESS.globalReports,
  params: jobParamsSchema,
  responses: { 200: { description: "The job", schema: reportJobSchema } },
});

export const reportsJobsResultGet = defineEndpoint({
  name: "reports-jobs-result-get",
  method: "GET",
  route: "tenants/{tenantId}/reports/jobs/{jobId}/result",
  summary: "L13: a finished report job's result (CSV or JSON, as asked).",
  tag: "Reports",
  access: ACCESS.globalReports,
  params: jobParamsSchema,
  responses: { 200: { description: "The report", contentType: "text/csv", alsoAs: [{ contentType: "application/json" }] }, 409: { description: "report-not-ready: the job has not succeeded (yet)" } },
});

export const reportsUnusedLicensesGet = defineEndpoint({
  name: "reports-unused-licenses-get",
  method: "GET",
  route: "tenants/{tenantId}/reports/unused-licenses",
  summary: "L19: licensed users who have not used Power Apps / Power Automate for `days` days (or never).",
  tag: "Reports",
  access: ACCESS.read,
  upstream: true,
  params: licenseRouteParamsSchema,
  query: listQuerySchema.extend({ days: z.coerce.number({ error: "must be given, a whole number of days from 1 to 3650" }).int().min(1).max(3650), product: trackedProductSchema.optional() }),
  responses: { 200: { description: "Users", schema: listResponseSchema(unusedLicenseRowSchema) } },
});

export const reportsGroupLicenseErrorsGet = defineEndpoint({
  name: "reports-group-license-errors-get",
  method: "GET",
  route: "tenants/{tenantId}/reports/group-license-errors",
  summary: "L20: users whose group-based licenses failed, with the reason. A page holds up to `limit` rows (a user's rows are never split over pages) and may hold fewer, even none, when it stopped after reading 2,000 group members: follow `nextCursor` until it is null.",
  tag: "Reports",
  access: ACCESS.read,
  upstream: true,
  params: licenseRouteParamsSchema,
  query: listQuerySchema,
  responses: { 200: { description: "Errors", schema: listResponseSchema(groupLicenseErrorRowSchema) } },
});

export const auditList = defineEndpoint({
  name: "audit-list",
  method: "GET",
  route: "tenants/{tenantId}/audit",
  summary: "L16: the audit trail, newest first, by time range (default: the last 30 days), changed user and actor.",
  tag: "Audit",
  access: ACCESS.read,
  params: licenseRouteParamsSchema,
  query: listQuerySchema.extend({
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    userId: objectIdSchema.optional(),
    actor: z
      .string()
      .trim()
      .min(1)
      .max(100)
      // Object ids are stored as Entra writes them, in lower case: a GUID matches whatever its case.
      .transform((a) => (isGuid(a) ? a.toLowerCase() : a))
      .optional()
      .describe("Object id of an admin, the name of a system actor such as trial-expiry, or a sign-in event caller (a relay's id): the claims made for its events and the events that failed"),
    action: z.string().trim().min(1).max(100).optional().describe("An action name, exactly as records carry it, e.g. license.change, settings.automation.update, sync.run.approve"),
  }),
  responses: { 200: { description: "Records", schema: listResponseSchema(auditRecordViewSchema) } },
});

export const auditVerificationGet = defineEndpoint({
  name: "audit-verification-get",
  method: "GET",
  route: "tenants/{tenantId}/audit/verification",
  summary: "L16: walks the tenant's hash chain; reports edited, removed or inserted records.",
  tag: "Audit",
  access: ACCESS.read,
  params: licenseRouteParamsSchema,
  responses: {
    200: {
      description: "The verification",
      schema: z.object({ ok: z.boolean(), count: z.number().int(), problems: z.array(z.object({ seq: z.number().int(), problem: z.string() })) }),
    },
  },
});

export const LICENSE_ENDPOINTS = [
  productsList, productsGet, productsUsersList, productsAssignmentsPost, usersList, usersLicensesGet, usersAssignLicensePost, usersLicensesPatch,
  licensesBulkPost, licensesRulesGet, licensesRulesPut, reportsActiveUserLicensesGet, reportsJobsGet, reportsJobsResultGet, reportsUnusedLicensesGet,
  reportsGroupLicenseErrorsGet, auditList, auditVerificationGet,
] as const;
