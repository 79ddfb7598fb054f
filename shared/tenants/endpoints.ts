import { ACCESS } from "../auth/roles.js";
import { defineEndpoint } from "../http/endpoint.js";
import { onboardTenantBodySchema, tenantRouteParamsSchema, tenantSchema } from "./tenant.js";

const etag = { ETag: "Version of the tenant's record; send it in If-Match to update it only if unchanged" };
const location = { Location: "The tenant (/api/tenants/{tenantId})" };

export const tenantsPut = defineEndpoint({
  name: "tenants-put",
  ifMatch: "optional",
  method: "PUT",
  route: "tenants/{tenantId}",
  summary: "Onboard a tenant (or update its display name). A Global Administrator of that tenant only.",
  tag: "Tenants",
  access: ACCESS.tenantOnboard,
  params: tenantRouteParamsSchema,
  body: onboardTenantBodySchema,
  responses: {
    200: { description: "The tenant was already onboarded; updated", schema: tenantSchema, headers: { ...etag, ...location } },
    201: { description: "Onboarded", schema: tenantSchema, headers: { ...etag, ...location } },
  },
});

export const tenantsGet = defineEndpoint({
  name: "tenants-get",
  method: "GET",
  route: "tenants/{tenantId}",
  summary: "Show an onboarded tenant.",
  tag: "Tenants",
  access: ACCESS.read,
  params: tenantRouteParamsSchema,
  responses: { 200: { description: "The tenant", schema: tenantSchema, headers: etag } },
});
