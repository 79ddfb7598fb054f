import { app } from "@azure/functions";
import { applicationUsersGet } from "../shared/environments/endpoints.js";
import { getApplicationUser } from "../shared/environments/application-users.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";
import { getSyncDeps } from "../shared/sync/deps.js";

export const handler = endpointHandler(applicationUsersGet, authDependencies, async ({ params }) => ({
  status: 200,
  jsonBody: await getApplicationUser(await getSyncDeps(), params.tenantId, params.environmentId, params.applicationId),
}));

app.http(applicationUsersGet.name, httpTrigger(applicationUsersGet, handler));
