import { app } from "@azure/functions";
import { autoClaimPoliciesReport } from "../shared/autoclaim/endpoints.js";
import { reportResponse } from "../shared/autoclaim/http.js";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(autoClaimPoliciesReport, authDependencies, ({ params, query }) => reportResponse(params.tenantId, query.days));

app.http(autoClaimPoliciesReport.name, httpTrigger(autoClaimPoliciesReport, handler));
