import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies, getRuntime } from "../shared/runtime.js";
import { autoClaimSettingsGet } from "../shared/settings/endpoints.js";
import { readSettings } from "../shared/settings/http.js";

export const handler = endpointHandler(autoClaimSettingsGet, authDependencies, async ({ params }) =>
  readSettings(await getRuntime(), params.tenantId, "auto-claim"),
);

app.http(autoClaimSettingsGet.name, httpTrigger(autoClaimSettingsGet, handler));
