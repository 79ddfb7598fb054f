import { app } from "@azure/functions";
import { alertSettingsGet } from "../shared/alerts/endpoints.js";
import { getAlertSettings } from "../shared/alerts/http.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies, getRuntime } from "../shared/runtime.js";

export const handler = endpointHandler(alertSettingsGet, authDependencies, async ({ params, principal }) =>
  getAlertSettings(await getRuntime(), params.tenantId, principal),
);

app.http(alertSettingsGet.name, httpTrigger(alertSettingsGet, handler));
