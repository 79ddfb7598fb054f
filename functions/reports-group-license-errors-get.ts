import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { licensing } from "../shared/licenses/composition.js";
import { reportsGroupLicenseErrorsGet } from "../shared/licenses/endpoints.js";
import { groupLicenseErrors } from "../shared/licenses/http.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(reportsGroupLicenseErrorsGet, authDependencies, async ({ params, query }) => groupLicenseErrors(await licensing(), params.tenantId, query));

app.http(reportsGroupLicenseErrorsGet.name, httpTrigger(reportsGroupLicenseErrorsGet, handler));
