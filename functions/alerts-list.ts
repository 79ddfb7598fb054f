import { app } from "@azure/functions";
import { alertsList } from "../shared/alerts/endpoints.js";
import { listAlerts } from "../shared/alerts/http.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies, getRuntime } from "../shared/runtime.js";

export const handler = endpointHandler(alertsList, authDependencies, async ({ params, query }) => listAlerts(await getRuntime(), params.tenantId, query));

app.http(alertsList.name, httpTrigger(alertsList, handler));
