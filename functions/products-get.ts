import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { licensing } from "../shared/licenses/composition.js";
import { productsGet } from "../shared/licenses/endpoints.js";
import { getProduct } from "../shared/licenses/http.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(productsGet, authDependencies, async ({ params, request }) => getProduct(await licensing(), params.tenantId, params.skuId, request.headers));

app.http(productsGet.name, httpTrigger(productsGet, handler));
