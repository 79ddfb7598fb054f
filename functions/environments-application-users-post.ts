import { app } from "@azure/functions";
import { applicationUsersPost } from "../shared/environments/endpoints.js";
import { applicationUserLocation, createApplicationUser } from "../shared/environments/application-users.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";
import { getSyncDeps } from "../shared/sync/deps.js";

export const handler = endpointHandler(applicationUsersPost, authDependencies, async ({ params, body, principal }) => {
  const created = await createApplicationUser(await getSyncDeps(), params.tenantId, params.environmentId, body, principal);
  return { status: 201, headers: { Location: applicationUserLocation(params.tenantId, params.environmentId, created.applicationId) }, jsonBody: created };
});

app.http(applicationUsersPost.name, httpTrigger(applicationUsersPost, handler));
