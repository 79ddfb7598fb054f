import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { licensing } from "../shared/licenses/composition.js";
import { reportsUnusedLicensesGet } from "../shared/licenses/endpoints.js";
import { unusedLicenses } from "../shared/licenses/http.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(reportsUnusedLicensesGet, authDependencies, async ({ params, query }) => unusedLicenses(await licensing(), params.tenantId, query));

app.http(reportsUnusedLicensesGet.name, httpTrigger(reportsUnusedLicensesGet, handler));
