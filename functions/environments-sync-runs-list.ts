import { app } from "@azure/functions";
import { syncRunsList } from "../shared/environments/endpoints.js";
import { listRuns } from "../shared/environments/sync-runs.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";
import { getSyncDeps } from "../shared/sync/deps.js";

export const handler = endpointHandler(syncRunsList, authDependencies, async ({ params, query }) => ({ status: 200, jsonBody: await listRuns(await getSyncDeps(), params.tenantId, params.environmentId, query) }));

app.http(syncRunsList.name, httpTrigger(syncRunsList, handler));
