import { app } from "@azure/functions";
import { environmentUsersList } from "../shared/environments/endpoints.js";
import { listEnvironmentUsers } from "../shared/environments/users.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";
import { getSyncDeps } from "../shared/sync/deps.js";

export const handler = endpointHandler(environmentUsersList, authDependencies, async ({ params, query }) => ({ status: 200, jsonBody: await listEnvironmentUsers(await getSyncDeps(), params.tenantId, params.environmentId, query) }));

app.http(environmentUsersList.name, httpTrigger(environmentUsersList, handler));
