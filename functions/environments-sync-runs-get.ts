import { app } from "@azure/functions";
import { syncRunsGet } from "../shared/environments/endpoints.js";
import { getRun, runView } from "../shared/environments/sync-runs.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";
import { getSyncDeps } from "../shared/sync/deps.js";

export const handler = endpointHandler(syncRunsGet, authDependencies, async ({ params }) => ({ status: 200, jsonBody: runView(await getRun(await getSyncDeps(), params.tenantId, params.environmentId, params.runId)) }));

app.http(syncRunsGet.name, httpTrigger(syncRunsGet, handler));
