import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { licensing } from "../shared/licenses/composition.js";
import { usersLicensesPatch } from "../shared/licenses/endpoints.js";
import { setUserLicensePlans } from "../shared/licenses/http.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(usersLicensesPatch, authDependencies, async ({ params, body, principal }) => setUserLicensePlans(await licensing(), params.tenantId, params.userId, params.skuId, body, principal));

app.http(usersLicensesPatch.name, httpTrigger(usersLicensesPatch, handler));
