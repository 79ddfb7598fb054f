import { app } from "@azure/functions";
import { environmentsPatch } from "../shared/environments/endpoints.js";
import { patchEnvironment } from "../shared/environments/environments.js";
import { requireIfMatch } from "../shared/http/conventions.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";
import { getSyncDeps } from "../shared/sync/deps.js";

export const handler = endpointHandler(environmentsPatch, authDependencies, async ({ params, body, request, principal }) => {
  const ifMatch = requireIfMatch(request.headers);
  const { view, etag } = await patchEnvironment(await getSyncDeps(), params.tenantId, params.environmentId, body, ifMatch, principal);
  return { status: 200, headers: { ETag: etag }, jsonBody: view };
});

app.http(environmentsPatch.name, httpTrigger(environmentsPatch, handler));
