import { app } from "@azure/functions";
import { syncRunsPost } from "../shared/environments/endpoints.js";
import { runLocation, startRun } from "../shared/environments/sync-runs.js";
import { acceptedResponse } from "../shared/http/conventions.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";
import { getSyncDeps } from "../shared/sync/deps.js";

export const handler = endpointHandler(syncRunsPost, authDependencies, async ({ params, principal }) => {
  const run = await startRun(await getSyncDeps(), params.tenantId, params.environmentId, principal);
  return acceptedResponse(run.runId, run.state, runLocation(params.tenantId, run.environmentId, run.runId));
});

app.http(syncRunsPost.name, httpTrigger(syncRunsPost, handler));
