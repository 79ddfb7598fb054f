import { app } from "@azure/functions";
import { autoClaimPoliciesDelete } from "../shared/autoclaim/endpoints.js";
import { deletePolicyResponse } from "../shared/autoclaim/http.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(autoClaimPoliciesDelete, authDependencies, ({ params, request, principal }) =>
  deletePolicyResponse(params.tenantId, params.policyId, request.headers, principal),
);

app.http(autoClaimPoliciesDelete.name, httpTrigger(autoClaimPoliciesDelete, handler));
