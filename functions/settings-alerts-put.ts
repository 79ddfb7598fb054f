import { app } from "@azure/functions";
import { alertSettingsPut } from "../shared/alerts/endpoints.js";
import { putAlertSettings } from "../shared/alerts/http.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies, getRuntime } from "../shared/runtime.js";

export const handler = endpointHandler(alertSettingsPut, authDependencies, async ({ params, body, request, principal }) =>
  putAlertSettings(await getRuntime(), params.tenantId, body, request.headers, principal),
);

app.http(alertSettingsPut.name, httpTrigger(alertSettingsPut, handler));
