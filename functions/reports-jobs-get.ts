import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { licensing } from "../shared/licenses/composition.js";
import { reportsJobsGet } from "../shared/licenses/endpoints.js";
import { reportJob } from "../shared/licenses/http.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(reportsJobsGet, authDependencies, async ({ params }) => reportJob(await licensing(), params.tenantId, params.jobId));

app.http(reportsJobsGet.name, httpTrigger(reportsJobsGet, handler));
