import { app } from "@azure/functions";
import { autoClaimPoliciesPost } from "../shared/autoclaim/endpoints.js";
import { createPolicyResponse } from "../shared/autoclaim/http.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(autoClaimPoliciesPost, authDependencies, ({ params, body, principal }) =>
  createPolicyResponse(params.tenantId, body, principal),
);

app.http(autoClaimPoliciesPost.name, httpTrigger(autoClaimPoliciesPost, handler));
