import { app } from "@azure/functions";
import { optionalIfMatch } from "../shared/http/conventions.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies, getRuntime } from "../shared/runtime.js";
import { tenantsPut } from "../shared/tenants/endpoints.js";

export const handler = endpointHandler(tenantsPut, authDependencies, async ({ params, body, principal, request }) => {
  const { tenants } = await getRuntime();
  const { tenant, created, etag } = await tenants.onboard(params.tenantId, body, principal, optionalIfMatch(request.headers));
  return { status: created ? 201 : 200, headers: { ETag: etag, Location: `/api/tenants/${tenant.tenantId}` }, jsonBody: tenant };
});

app.http(tenantsPut.name, httpTrigger(tenantsPut, handler));
