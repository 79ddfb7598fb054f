import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { healthGet } from "../shared/platform/endpoints.js";
import { checkHealth } from "../shared/platform/health.js";
import { authDependencies, dependencyChecks } from "../shared/runtime.js";

export const handler = endpointHandler(healthGet, authDependencies, async () => {
  const health = await checkHealth(dependencyChecks());
  return health.status === "ok" ? { status: 200, jsonBody: health } : { status: 503, headers: { "Retry-After": "10" }, jsonBody: health };
});

app.http(healthGet.name, httpTrigger(healthGet, handler));
