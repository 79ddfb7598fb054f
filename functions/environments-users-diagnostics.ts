import { app } from "@azure/functions";
import { environmentUsersDiagnostics } from "../shared/environments/endpoints.js";
import { diagnose } from "../shared/environments/users.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";
import { getSyncDeps } from "../shared/sync/deps.js";

export const handler = endpointHandler(environmentUsersDiagnostics, authDependencies, async ({ params }) => ({ status: 200, jsonBody: await diagnose(await getSyncDeps(), params.tenantId, params.environmentId, params.userId) }));

app.http(environmentUsersDiagnostics.name, httpTrigger(environmentUsersDiagnostics, handler));
