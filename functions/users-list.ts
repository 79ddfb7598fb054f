import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { licensing } from "../shared/licenses/composition.js";
import { usersList } from "../shared/licenses/endpoints.js";
import { listUsers } from "../shared/licenses/http.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(usersList, authDependencies, async ({ params, query }) => listUsers(await licensing(), params.tenantId, query));

app.http(usersList.name, httpTrigger(usersList, handler));
