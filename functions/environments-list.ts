import { app } from "@azure/functions";
import { environmentsList } from "../shared/environments/endpoints.js";
import { listEnvironments } from "../shared/environments/environments.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";
import { getSyncDeps } from "../shared/sync/deps.js";

export const handler = endpointHandler(environmentsList, authDependencies, async ({ params, query }) => ({ status: 200, jsonBody: await listEnvironments(await getSyncDeps(), params.tenantId, query) }));

app.http(environmentsList.name, httpTrigger(environmentsList, handler));
