import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies, getRuntime } from "../shared/runtime.js";
import { automationSettingsGet } from "../shared/settings/endpoints.js";
import { readSettings } from "../shared/settings/http.js";

export const handler = endpointHandler(automationSettingsGet, authDependencies, async ({ params }) =>
  readSettings(await getRuntime(), params.tenantId, "automation"),
);

app.http(automationSettingsGet.name, httpTrigger(automationSettingsGet, handler));
