import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { licensing } from "../shared/licenses/composition.js";
import { auditList } from "../shared/licenses/endpoints.js";
import { listAudit } from "../shared/licenses/http.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(auditList, authDependencies, async ({ params, query }) => listAudit(await licensing(), params.tenantId, query));

app.http(auditList.name, httpTrigger(auditList, handler));
