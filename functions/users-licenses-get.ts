import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { licensing } from "../shared/licenses/composition.js";
import { usersLicensesGet } from "../shared/licenses/endpoints.js";
import { getUserLicenses } from "../shared/licenses/http.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(usersLicensesGet, authDependencies, async ({ params }) => getUserLicenses(await licensing(), params.tenantId, params.userId));

app.http(usersLicensesGet.name, httpTrigger(usersLicensesGet, handler));
