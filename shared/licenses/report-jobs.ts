import { randomUUID } from "node:crypto";
import type { Container } from "@azure/cosmos";
import { z } from "zod";
import { retryableUpstream } from "../clients/upstream-body.js";
import { AppError } from "../errors/app-error.js";
import { newEnvelope } from "../queue/envelope.js";
import type { QueueSender } from "../queue/transport.js";
import { createItem, queryAll, readItem, upsert } from "../storage/repository.js";

/**
 * L13 for large tenants: an HTTP request may not outlive 230 s in Azure, so the report is built by
 * a job on the event queue (envelope kind `license-report`). The job document and the result (in
 * parts of at most 512 KiB, under Cosmos DB's 2 MB item limit) live in the `reports` container.
 */
export const REPORT_JOB_KIND = "license-report";
/** Above this many usage records the report is always a job. */
export const SYNC_REPORT_MAX_RECORDS = 5000;
const PART_CHARS = 512 * 1024;

export const reportFormatSchema = z.enum(["csv", "json"]);
export type ReportFormat = z.infer<typeof reportFormatSchema>;
export const reportJobStatusSchema = z.enum(["queued", "running", "succeeded", "failed"]);

export const reportJobSchema = z.object({
  id: z.string(),
  report: z.enum(["active-user-licenses"]),
  format: reportFormatSchema,
  status: reportJobStatusSchema,
  createdAt: z.string(),
  createdBy: z.string(),
  finishedAt: z.string().nullable(),
  rowCount: z.number().int().nullable(),
  error: z.string().nullable().describe("Why it failed; while it is still running, why its last attempt did not finish (it is retried)"),
  /** Where to download the result once the job succeeded. */
  resultLocation: z.string().nullable(),
});
export type ReportJob = z.infer<typeof reportJobSchema>;

interface JobDocument extends Omit<ReportJob, "resultLocation"> {
  tenantId: string;
  type: "report-job";
  parts: number;
}

interface PartDocument {
  id: string;
  tenantId: string;
  type: "report-part";
  jobId: string;
  index: number;
  content: string;
}

export const jobLocation = (tenantId: string, jobId: string) => `/api/tenants/${tenantId}/reports/jobs/${jobId}`;

function publicJob(doc: JobDocument): ReportJob {
  return {
    id: doc.id, report: doc.report, format: doc.format, status: doc.status, createdAt: doc.createdAt, createdBy: doc.createdBy,
    finishedAt: doc.finishedAt, rowCount: doc.rowCount, error: doc.error,
    resultLocation: doc.status === "succeeded" ? `${jobLocation(doc.tenantId, doc.id)}/result` : null,
  };
}

export async function startReportJob(container: Container, queue: QueueSender, tenantId: string, format: ReportFormat, createdBy: string, now = new Date()): Promise<ReportJob> {
  const id = randomUUID();
  const doc: JobDocument = {
    id, tenantId, type: "report-job", report: "active-user-licenses", format, status: "queued", createdAt: now.toISOString(), createdBy,
    finishedAt: null, rowCount: null, error: null, parts: 0,
  };
  await createItem(container, doc);
  await queue.send(newEnvelope({ kind: REPORT_JOB_KIND, tenantId, id: `report-${id}`, body: { jobId: id } }));
  return publicJob(doc);
}

export async function readReportJob(container: Container, tenantId: string, jobId: string): Promise<ReportJob> {
  const doc = await readItem<JobDocument>(container, jobId, tenantId);
  if (!doc || doc.type !== "report-job") throw new AppError("notFound", "The report job was not found.");
  return publicJob(doc);
}

export async function readReportResult(container: Container, tenantId: string, jobId: string): Promise<{ job: ReportJob; content: string }> {
  const doc = await readItem<JobDocument>(container, jobId, tenantId);
  if (!doc || doc.type !== "report-job") throw new AppError("notFound", "The report job was not found.");
  if (doc.status !== "succeeded") throw new AppError("conflict", `The report job is ${doc.status}; its result is not available.`, { code: "report-not-ready" });
  const parts = await queryAll<PartDocument>(
    container,
    { query: "SELECT * FROM c WHERE c.tenantId = @t AND c.type = 'report-part' AND c.jobId = @j", parameters: [{ name: "@t", value: tenantId }, { name: "@j", value: jobId }] },
    { partitionKey: tenantId, maxItems: doc.parts + 1 },
  );
  return { job: publicJob(doc), content: parts.sort((a, b) => a.index - b.index).map((p) => p.content).join("") };
}

export const reportJobMessageSchema = z.object({ jobId: z.guid() });

/**
 * Runs a job (the queue handler): idempotent - a finished job is left alone, a re-delivered one
 * is rebuilt. Transient failures (throttling, Microsoft's 5xx) are thrown so the queue retries with
 * a delay, except at the last attempt: then, as for anything else, the job is marked failed with
 * why - a job never stays `running` after its message is gone.
 */
export async function runReportJob(
  container: Container,
  tenantId: string,
  jobId: string,
  build: (format: ReportFormat) => Promise<{ content: string; rowCount: number }>,
  options: { attempt?: number; maxAttempts?: number; now?: () => Date } = {},
): Promise<void> {
  const now = options.now ?? (() => new Date());
  const attempt = options.attempt ?? 1;
  const lastAttempt = attempt >= (options.maxAttempts ?? Number.POSITIVE_INFINITY);
  const doc = await readItem<JobDocument>(container, jobId, tenantId);
  if (!doc || doc.type !== "report-job" || doc.status === "succeeded" || doc.status === "failed") return;
  await upsert<JobDocument>(container, { ...stripSystem(doc), status: "running" });
  try {
    const { content, rowCount } = await build(doc.format);
    const parts = Math.max(1, Math.ceil(content.length / PART_CHARS));
    for (let i = 0; i < parts; i++) {
      await upsert<PartDocument>(container, {
        id: `${jobId}:part:${i}`, tenantId, type: "report-part", jobId, index: i, content: content.slice(i * PART_CHARS, (i + 1) * PART_CHARS),
      });
    }
    await upsert<JobDocument>(container, { ...stripSystem(doc), status: "succeeded", finishedAt: now().toISOString(), rowCount, parts, error: null });
  } catch (caught) {
    const err = retryableUpstream(caught);
    const transient = err instanceof AppError && err.transient;
    if (transient && !lastAttempt) {
      // Still running, retried by the queue: the status says why the last attempt did not finish.
      const reason = err instanceof AppError ? err.message : "an attempt failed";
      await upsert<JobDocument>(container, { ...stripSystem(doc), status: "running", error: `Attempt ${attempt} did not finish (retried): ${reason}` }).catch(() => undefined);
      throw err;
    }
    const message = err instanceof AppError ? err.message : "The report could not be built.";
    await upsert<JobDocument>(container, {
      ...stripSystem(doc), status: "failed", finishedAt: now().toISOString(), error: transient ? `Gave up after ${attempt} attempts: ${message}` : message,
    });
  }
}

function stripSystem(doc: JobDocument): JobDocument {
  const copy: Record<string, unknown> = { ...doc };
  for (const k of Object.keys(copy)) if (k.startsWith("_")) delete copy[k];
  return copy as unknown as JobDocument;
}
