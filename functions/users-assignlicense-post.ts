import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { licensing } from "../shared/licenses/composition.js";
import { usersAssignLicensePost } from "../shared/licenses/endpoints.js";
import { assignUserLicenses } from "../shared/licenses/http.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(usersAssignLicensePost, authDependencies, async ({ params, body, principal }) => assignUserLicenses(await licensing(), params.tenantId, params.userId, body, principal));

app.http(usersAssignLicensePost.name, httpTrigger(usersAssignLicensePost, handler));
