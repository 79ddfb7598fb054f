import { app } from "@azure/functions";
import { autoClaimPoliciesList } from "../shared/autoclaim/endpoints.js";
import { listPoliciesResponse } from "../shared/autoclaim/http.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(autoClaimPoliciesList, authDependencies, ({ params, query }) => listPoliciesResponse(params.tenantId, query));

app.http(autoClaimPoliciesList.name, httpTrigger(autoClaimPoliciesList, handler));
