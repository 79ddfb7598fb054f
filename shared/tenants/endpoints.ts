import { ACCESS } from "../auth/roles.js";
import { defineEndpoint } from "../http/endpoint.js";
import { onboardTenantBodySchema, tenantRouteParamsSchema, tenantSchema } from "./tenant.js";

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
    200: { description: "The tenant was already onboarded; updated", schema: tenantSchema },
    201: { description: "Onboarded", schema: tenantSchema },
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
  responses: { 200: { description: "The tenant", schema: tenantSchema } },
});
