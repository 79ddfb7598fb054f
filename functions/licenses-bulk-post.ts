import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { licensing } from "../shared/licenses/composition.js";
import { licensesBulkPost } from "../shared/licenses/endpoints.js";
import { bulkChange } from "../shared/licenses/http.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(licensesBulkPost, authDependencies, async ({ params, body, principal }) => bulkChange(await licensing(), params.tenantId, body, principal));

app.http(licensesBulkPost.name, httpTrigger(licensesBulkPost, handler));
