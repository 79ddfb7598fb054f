import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies, getRuntime } from "../shared/runtime.js";
import { automationSettingsPut } from "../shared/settings/endpoints.js";
import { writeSettings } from "../shared/settings/http.js";
import { announceResume } from "../shared/settings/resume.js";

export const handler = endpointHandler(automationSettingsPut, authDependencies, async ({ params, body, request, principal, context }) => {
  const rt = await getRuntime();
  return writeSettings(rt, params.tenantId, "automation", body, request.headers, principal, {
    afterChange: (before, after) => announceResume(rt.eventQueue, params.tenantId, before, after, (msg) => context.warn(msg)),
  });
});

app.http(automationSettingsPut.name, httpTrigger(automationSettingsPut, handler));
