import { app } from "@azure/functions";
import { applicationUsersPatch } from "../shared/environments/endpoints.js";
import { setApplicationUserEnabled } from "../shared/environments/application-users.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";
import { getSyncDeps } from "../shared/sync/deps.js";

export const handler = endpointHandler(applicationUsersPatch, authDependencies, async ({ params, body, principal }) => ({ status: 200, jsonBody: await setApplicationUserEnabled(await getSyncDeps(), params.tenantId, params.environmentId, params.applicationId, body.enabled, principal) }));

app.http(applicationUsersPatch.name, httpTrigger(applicationUsersPatch, handler));
