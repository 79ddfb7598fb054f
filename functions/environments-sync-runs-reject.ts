import { app } from "@azure/functions";
import { syncRunsReject } from "../shared/environments/endpoints.js";
import { rejectRun, runView } from "../shared/environments/sync-runs.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";
import { getSyncDeps } from "../shared/sync/deps.js";

export const handler = endpointHandler(syncRunsReject, authDependencies, async ({ params, principal }) => ({
  status: 200,
  jsonBody: runView(await rejectRun(await getSyncDeps(), params.tenantId, params.environmentId, params.runId, principal)),
}));

app.http(syncRunsReject.name, httpTrigger(syncRunsReject, handler));
