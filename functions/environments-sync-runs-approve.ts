import { app } from "@azure/functions";
import { syncRunsApprove } from "../shared/environments/endpoints.js";
import { approveRun, runLocation } from "../shared/environments/sync-runs.js";
import { acceptedResponse } from "../shared/http/conventions.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";
import { getSyncDeps } from "../shared/sync/deps.js";

export const handler = endpointHandler(syncRunsApprove, authDependencies, async ({ params, principal }) => {
  const run = await approveRun(await getSyncDeps(), params.tenantId, params.environmentId, params.runId, principal);
  return acceptedResponse(run.runId, run.state, runLocation(params.tenantId, run.environmentId, run.runId));
});

app.http(syncRunsApprove.name, httpTrigger(syncRunsApprove, handler));
