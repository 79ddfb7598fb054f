import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { licensing } from "../shared/licenses/composition.js";
import { reportsJobsResultGet } from "../shared/licenses/endpoints.js";
import { reportJobResult } from "../shared/licenses/http.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(reportsJobsResultGet, authDependencies, async ({ params }) => reportJobResult(await licensing(), params.tenantId, params.jobId));

app.http(reportsJobsResultGet.name, httpTrigger(reportsJobsResultGet, handler));
