import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { licensing } from "../shared/licenses/composition.js";
import { productsAssignmentsPost } from "../shared/licenses/endpoints.js";
import { assignProduct } from "../shared/licenses/http.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(productsAssignmentsPost, authDependencies, async ({ params, body, principal }) => assignProduct(await licensing(), params.tenantId, params.skuId, body, principal));

app.http(productsAssignmentsPost.name, httpTrigger(productsAssignmentsPost, handler));
