import { z } from "zod";
import { ACCESS } from "../auth/roles.js";
import { defineEndpoint } from "../http/endpoint.js";
import { listQuerySchema, listResponseSchema, tenantIdSchema } from "../http/conventions.js";
import { createPolicyBodySchema, patchPolicyBodySchema, policyIdSchema, policyViewSchema } from "./policy.js";
import { reportQuerySchema, reportSchema } from "./report-model.js";

const tenantParams = z.object({ tenantId: tenantIdSchema });
const policyParams = z.object({ tenantId: tenantIdSchema, policyId: policyIdSchema });
const etag = { ETag: "Version to send in If-Match" };
const COLLECTION = "tenants/{tenantId}/auto-claim-policies";
// `:guid` keeps `…/report` from reaching the item's GET: the host tries functions in name order and
// "auto-claim-policies-get" comes before "auto-claim-policies-report" (a non-GUID id reaches the
// catch-all, which answers 400 naming params.policyId).
const ITEM = `${COLLECTION}/{policyId:guid}`;

export const autoClaimPoliciesList = defineEndpoint({
  name: "auto-claim-policies-list",
  method: "GET",
  route: COLLECTION,
  summary: "A2: the auto-claim policies: each one's app, products (primary first) with their available licenses, and status.",
  tag: "Auto-claim",
  access: ACCESS.read,
  upstream: true,
  params: tenantParams,
  query: listQuerySchema,
  responses: { 200: { description: "A page of policies", schema: listResponseSchema(policyViewSchema) } },
});

export const autoClaimPoliciesPost = defineEndpoint({
  name: "auto-claim-policies-post",
  method: "POST",
  route: COLLECTION,
  summary: "A2, A3, A12: create a policy for an app (one per app: a second one is 409); products[0] is the primary, up to 4 backups follow.",
  tag: "Auto-claim",
  access: ACCESS.tenantAdminWrite,
  upstream: true,
  params: tenantParams,
  body: createPolicyBodySchema,
  responses: {
    201: { description: "Created", schema: policyViewSchema, headers: { ...etag, Location: "The policy" } },
    409: { description: "policy-exists-for-app: the app already has a policy (A12: one per app; appId, policyId)" },
    422: { description: "unknown-product (not the tenant's; skuId), unknown-service-plan (skuId, servicePlanId), self-service-subscription (L10; skuId, skuPartNumber), product-not-for-app (A2: the product does not license the policy's app, or its plan that does is switched off; skuId, appId, appServicePlans): nothing saved" },
  },
});

export const autoClaimPoliciesGet = defineEndpoint({
  name: "auto-claim-policies-get",
  method: "GET",
  route: ITEM,
  summary: "One auto-claim policy, with its ETag.",
  tag: "Auto-claim",
  access: ACCESS.read,
  upstream: true,
  params: policyParams,
  responses: { 200: { description: "The policy", schema: policyViewSchema, headers: etag } },
});

export const autoClaimPoliciesPatch = defineEndpoint({
  name: "auto-claim-policies-patch",
  ifMatch: true,
  method: "PATCH",
  route: ITEM,
  summary:
    "A4-A6: rename, enable or disable, change the products (add, remove, reorder backups, apps and services) - a JSON merge patch with " +
    "If-Match. At least one product stays; removing a product or disabling the policy takes no license away. Claims see the change within 30 s.",
  tag: "Auto-claim",
  access: ACCESS.tenantAdminWrite,
  upstream: true,
  params: policyParams,
  body: patchPolicyBodySchema,
  responses: {
    200: { description: "Updated", schema: policyViewSchema, headers: etag },
    422: { description: "unknown-product (not the tenant's; skuId), unknown-service-plan (skuId, servicePlanId), self-service-subscription (L10; skuId, skuPartNumber), product-not-for-app (A2: the product does not license the policy's app, or its plan that does is switched off; skuId, appId, appServicePlans): nothing saved" },
  },
});

export const autoClaimPoliciesDelete = defineEndpoint({
  name: "auto-claim-policies-delete",
  ifMatch: true,
  method: "DELETE",
  route: ITEM,
  summary: "Delete a policy (If-Match). Licenses claimed through it stay, and so do its entries in the report.",
  tag: "Auto-claim",
  access: ACCESS.tenantAdminWrite,
  params: policyParams,
  responses: { 204: { description: "Deleted" } },
});

export const autoClaimPoliciesReport = defineEndpoint({
  name: "auto-claim-policies-report",
  method: "GET",
  route: `${COLLECTION}/report`,
  summary:
    "A7, A11: licenses claimed through each policy over the last 1, 7, 30 or 90 days (default 90), per product with the users; " +
    "events that failed or were skipped, with their reasons; licenses reclaimed (A13).",
  tag: "Auto-claim",
  access: ACCESS.globalReports,
  upstream: true,
  params: tenantParams,
  query: reportQuerySchema,
  responses: { 200: { description: "The report", schema: reportSchema } },
});

export const AUTO_CLAIM_ENDPOINTS = [
  autoClaimPoliciesList,
  autoClaimPoliciesPost,
  autoClaimPoliciesGet,
  autoClaimPoliciesPatch,
  autoClaimPoliciesDelete,
  autoClaimPoliciesReport,
] as const;
