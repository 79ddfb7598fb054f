import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies, getRuntime } from "../shared/runtime.js";
import { autoClaimSettingsPut } from "../shared/settings/endpoints.js";
import { writeSettings } from "../shared/settings/http.js";

export const handler = endpointHandler(autoClaimSettingsPut, authDependencies, async ({ params, body, request, principal }) =>
  writeSettings(await getRuntime(), params.tenantId, "auto-claim", body, request.headers, principal),
);

app.http(autoClaimSettingsPut.name, httpTrigger(autoClaimSettingsPut, handler));
