import { app } from "@azure/functions";
import { applicationUsersPost } from "../shared/environments/endpoints.js";
import { createApplicationUser } from "../shared/environments/application-users.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";
import { getSyncDeps } from "../shared/sync/deps.js";

export const handler = endpointHandler(applicationUsersPost, authDependencies, async ({ params, body, principal }) => ({ status: 201, jsonBody: await createApplicationUser(await getSyncDeps(), params.tenantId, params.environmentId, body, principal) }));

app.http(applicationUsersPost.name, httpTrigger(applicationUsersPost, handler));
