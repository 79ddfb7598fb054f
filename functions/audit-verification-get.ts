import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { licensing } from "../shared/licenses/composition.js";
import { auditVerificationGet } from "../shared/licenses/endpoints.js";
import { verifyAudit } from "../shared/licenses/http.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(auditVerificationGet, authDependencies, async ({ params }) => verifyAudit(await licensing(), params.tenantId));

app.http(auditVerificationGet.name, httpTrigger(auditVerificationGet, handler));
