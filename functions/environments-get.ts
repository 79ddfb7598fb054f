import { app } from "@azure/functions";
import { environmentsGet } from "../shared/environments/endpoints.js";
import { getEnvironment } from "../shared/environments/environments.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";
import { getSyncDeps } from "../shared/sync/deps.js";

export const handler = endpointHandler(environmentsGet, authDependencies, async ({ params }) => {
  const { view, etag } = await getEnvironment(await getSyncDeps(), params.tenantId, params.environmentId);
  return { status: 200, headers: { ETag: etag }, jsonBody: view };
});

app.http(environmentsGet.name, httpTrigger(environmentsGet, handler));
