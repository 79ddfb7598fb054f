import { app } from "@azure/functions";
import { environmentUsersPatch } from "../shared/environments/endpoints.js";
import { setAccessMode } from "../shared/environments/users.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";
import { getSyncDeps } from "../shared/sync/deps.js";

export const handler = endpointHandler(environmentUsersPatch, authDependencies, async ({ params, body, principal }) => ({ status: 200, jsonBody: await setAccessMode(await getSyncDeps(), params.tenantId, params.environmentId, params.userId, body.accessMode, principal) }));

app.http(environmentUsersPatch.name, httpTrigger(environmentUsersPatch, handler));
