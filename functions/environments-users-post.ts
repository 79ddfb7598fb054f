import { app } from "@azure/functions";
import { environmentUsersPost } from "../shared/environments/endpoints.js";
import { changeOneUser } from "../shared/environments/users.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";
import { getSyncDeps } from "../shared/sync/deps.js";

export const handler = endpointHandler(environmentUsersPost, authDependencies, async ({ params, body, principal }) => ({ status: 200, jsonBody: await changeOneUser(await getSyncDeps(), params.tenantId, params.environmentId, body.userId, "add", principal) }));

app.http(environmentUsersPost.name, httpTrigger(environmentUsersPost, handler));
