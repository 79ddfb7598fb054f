import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { licensing } from "../shared/licenses/composition.js";
import { licensesRulesPut } from "../shared/licenses/endpoints.js";
import { putRules } from "../shared/licenses/http.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(licensesRulesPut, authDependencies, async ({ params, body, request, principal }) => putRules(await licensing(), params.tenantId, body, request.headers, principal));

app.http(licensesRulesPut.name, httpTrigger(licensesRulesPut, handler));
