import { app } from "@azure/functions";
import { environmentUsersRefresh } from "../shared/environments/endpoints.js";
import { changeOneUser } from "../shared/environments/users.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";
import { getSyncDeps } from "../shared/sync/deps.js";

export const handler = endpointHandler(environmentUsersRefresh, authDependencies, async ({ params, principal }) => ({ status: 200, jsonBody: await changeOneUser(await getSyncDeps(), params.tenantId, params.environmentId, params.userId, "refresh", principal) }));

app.http(environmentUsersRefresh.name, httpTrigger(environmentUsersRefresh, handler));
