import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies, getRuntime } from "../shared/runtime.js";
import { automationSettingsPut } from "../shared/settings/endpoints.js";
import { writeSettings } from "../shared/settings/http.js";

export const handler = endpointHandler(automationSettingsPut, authDependencies, async ({ params, body, request, principal }) =>
  writeSettings(await getRuntime(), params.tenantId, "automation", body, request.headers, principal),
);

app.http(automationSettingsPut.name, httpTrigger(automationSettingsPut, handler));
