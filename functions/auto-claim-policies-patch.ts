import { app } from "@azure/functions";
import { autoClaimPoliciesPatch } from "../shared/autoclaim/endpoints.js";
import { patchPolicyResponse } from "../shared/autoclaim/http.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(autoClaimPoliciesPatch, authDependencies, ({ params, body, request, principal }) =>
  patchPolicyResponse(params.tenantId, params.policyId, body, request.headers, principal),
);

app.http(autoClaimPoliciesPatch.name, httpTrigger(autoClaimPoliciesPatch, handler));
