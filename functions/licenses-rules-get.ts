import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { licensing } from "../shared/licenses/composition.js";
import { licensesRulesGet } from "../shared/licenses/endpoints.js";
import { getRules } from "../shared/licenses/http.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(licensesRulesGet, authDependencies, async ({ params }) => getRules(await licensing(), params.tenantId));

app.http(licensesRulesGet.name, httpTrigger(licensesRulesGet, handler));
