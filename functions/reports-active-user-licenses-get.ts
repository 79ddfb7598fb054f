import { app } from "@azure/functions";
import { endpointHandler, httpTrigger } from "../shared/http/endpoint.js";
import { licensing } from "../shared/licenses/composition.js";
import { reportsActiveUserLicensesGet } from "../shared/licenses/endpoints.js";
import { activeUserReport, buildActiveUserReport } from "../shared/licenses/http.js";
import { REPORT_JOB_KIND, reportJobMessageSchema, runReportJob } from "../shared/licenses/report-jobs.js";
import { registerEnvelopeHandler } from "../shared/events/dispatch.js";
import { authDependencies } from "../shared/runtime.js";

export const handler = endpointHandler(reportsActiveUserLicensesGet, authDependencies, async ({ params, query, request, principal }) =>
  activeUserReport(await licensing(), params.tenantId, query, request.headers, principal));

app.http(reportsActiveUserLicensesGet.name, httpTrigger(reportsActiveUserLicensesGet, handler));

// The report as a job (large tenants, or `Prefer: respond-async`): run by the event queue's function.
registerEnvelopeHandler(REPORT_JOB_KIND, async (envelope) => {
  const l = await licensing();
  const { jobId } = reportJobMessageSchema.parse(envelope.body);
  await runReportJob(l.runtime.container("reports"), envelope.tenantId, jobId, (format) => buildActiveUserReport(l, envelope.tenantId, format), {
    attempt: envelope.attempt, maxAttempts: l.runtime.config.QUEUE_MAX_ATTEMPTS,
  });
});
