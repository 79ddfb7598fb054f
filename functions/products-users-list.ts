import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { licensing } from "../shared/licenses/composition.js";
import { productsUsersList } from "../shared/licenses/endpoints.js";
import { listProductUsers } from "../shared/licenses/http.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(productsUsersList, authDependencies, async ({ params, query }) => listProductUsers(await licensing(), params.tenantId, params.skuId, query));

app.http(productsUsersList.name, httpTrigger(productsUsersList, handler));
