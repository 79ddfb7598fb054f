import { app } from "@azure/functions";
import { autoClaimPoliciesGet } from "../shared/autoclaim/endpoints.js";
import { getPolicyResponse } from "../shared/autoclaim/http.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(autoClaimPoliciesGet, authDependencies, ({ params }) => getPolicyResponse(params.tenantId, params.policyId));

app.http(autoClaimPoliciesGet.name, httpTrigger(autoClaimPoliciesGet, handler));
