import { app } from "@azure/functions";
import { syncRunActionsList } from "../shared/environments/endpoints.js";
import { listRunActions } from "../shared/environments/run-actions.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";
import { getSyncDeps } from "../shared/sync/deps.js";

export const handler = endpointHandler(syncRunActionsList, authDependencies, async ({ params, query }) => ({
  status: 200,
  jsonBody: await listRunActions(await getSyncDeps(), params.tenantId, params.environmentId, params.runId, query),
}));

app.http(syncRunActionsList.name, httpTrigger(syncRunActionsList, handler));
