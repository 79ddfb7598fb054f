import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { licensing } from "../shared/licenses/composition.js";
import { productsList } from "../shared/licenses/endpoints.js";
import { listProducts } from "../shared/licenses/http.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(productsList, authDependencies, async ({ params, query, request }) => listProducts(await licensing(), params.tenantId, query, request.headers));

app.http(productsList.name, httpTrigger(productsList, handler));
