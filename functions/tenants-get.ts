import { app } from "@azure/functions";
import { notFound } from "../shared/errors/app-error.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies, getRuntime } from "../shared/runtime.js";
import { tenantsGet } from "../shared/tenants/endpoints.js";

export const handler = endpointHandler(tenantsGet, authDependencies, async ({ params }) => {
  const { tenants } = await getRuntime();
  const found = await tenants.get(params.tenantId);
  if (!found) throw notFound("The tenant");
  return { status: 200, headers: { ETag: found.etag }, jsonBody: found.tenant };
});

app.http(tenantsGet.name, httpTrigger(tenantsGet, handler));
