import type { z } from "zod";
import type { Principal } from "../auth/token-validator.js";
import { AppError, notFound } from "../errors/app-error.js";
import { decodeCursor, encodeCursor } from "../http/conventions.js";
import type { SyncDeps } from "../sync/deps.js";
import type { RunDocument } from "../sync/documents.js";
import { enqueueDirectoryJob, enqueueEnvironmentJob } from "../sync/jobs.js";
import { newEnvState, newRun } from "../sync/runs.js";
import { actorOf, requireDataverse, requireEnvironment } from "./environments.js";
import type { syncRunSchema } from "./schemas.js";

/** D11: a run as the API shows it. */
export function runView(run: RunDocument): z.infer<typeof syncRunSchema> {
  return {
    id: run.runId,
    environmentId: run.environmentId,
    trigger: run.trigger,
    requestedBy: run.requestedBy,
    state: run.state,
    full: run.full,
    counts: run.counts,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    durationMs: run.durationMs,
    checkpoint: {
      directoryCycle: run.targetCycle,
      phase: run.phase,
      planChunk: run.progress.chunk,
      position: run.progress.position,
      planActions: run.plan?.actions ?? null,
    },
    plan: run.plan?.byOp ?? null,
    guard: run.guard,
    batchSize: run.batchSize,
    pausedReason: run.pausedReason,
    error: run.error,
    failures: run.failures,
  };
}

export const runLocation = (tenantId: string, environmentId: string, runId: string) => `/api/tenants/${tenantId}/environments/${environmentId}/sync-runs/${runId}`;

/**
 * Starts a run now: it is queued on the environment (one run at a time: 409 otherwise) and the
 * tenant's directory cycle is asked to start, which reads the directory and then runs it.
 */
export async function startRun(deps: SyncDeps, tenantId: string, environmentId: string, principal: Principal): Promise<RunDocument> {
  const env = await requireEnvironment(deps, tenantId, environmentId);
  requireDataverse(env);
  const existing = await deps.store.readEnvState(tenantId, env.id);
  if (existing?.doc.activeRunId) {
    throw new AppError("conflict", `A sync run of environment ${env.id} is in progress (${existing.doc.activeRunId}).`, {
      code: "sync-run-in-progress",
      extensions: { runId: existing.doc.activeRunId },
    });
  }
  const run = newRun({ tenantId, environmentId: env.id, trigger: "manual", requestedBy: principal.objectId, now: deps.now() });
  await deps.store.save(run, undefined);
  try {
    await deps.store.save({ ...(existing?.doc ?? newEnvState(tenantId, env.id)), activeRunId: run.runId }, existing?.etag);
  } catch (err) {
    await deps.store.deleteMany(run.partitionKey, [run.id]);
    if (err instanceof AppError && (err.kind === "preconditionFailed" || err.kind === "conflict")) {
      throw new AppError("conflict", `A sync run of environment ${env.id} was started at the same moment.`, { code: "sync-run-in-progress" });
    }
    throw err;
  }
  await deps.audit.append(tenantId, {
    actor: actorOf(principal),
    action: "sync.run.start",
    target: { type: "environment", id: env.id },
    phase: "record",
    outcome: "succeeded",
    context: { runId: run.runId },
  });
  await enqueueDirectoryJob(deps.queue, tenantId, { trigger: "manual" });
  return run;
}

export async function getRun(deps: SyncDeps, tenantId: string, environmentId: string, runId: string): Promise<RunDocument> {
  const found = await deps.store.readRun(tenantId, environmentId, runId);
  if (!found) throw notFound(`Sync run ${runId}`);
  return found.doc;
}

export async function listRuns(deps: SyncDeps, tenantId: string, environmentId: string, query: { limit: number; cursor?: string | undefined }) {
  const filter = { environmentId };
  const continuationToken = decodeCursor(query.cursor, tenantId, filter) ?? null;
  const page = await deps.store.listRuns(tenantId, environmentId, { limit: query.limit, continuationToken });
  return {
    items: page.items.map(runView),
    nextCursor: page.continuationToken ? encodeCursor(tenantId, filter, page.continuationToken) : null,
  };
}

/** D13: an admin approves a held run; it continues with the plan it made (nothing was applied before). */
export async function approveRun(deps: SyncDeps, tenantId: string, environmentId: string, runId: string, principal: Principal): Promise<RunDocument> {
  const found = await deps.store.readRun(tenantId, environmentId, runId);
  if (!found) throw notFound(`Sync run ${runId}`);
  const run = found.doc;
  if (run.state !== "awaiting-approval" || !run.guard) {
    throw new AppError("conflict", `Sync run ${runId} is ${run.state}, not waiting for approval.`, { code: "sync-run-not-awaiting-approval", extensions: { state: run.state } });
  }
  const now = deps.now();
  run.guard = { ...run.guard, approvedBy: principal.objectId, approvedAt: now.toISOString() };
  run.state = "running";
  run.step += 1;
  run.lease = null;
  run.heartbeatAt = now.getTime();
  try {
    await deps.store.save(run, found.etag);
  } catch (err) {
    if (err instanceof AppError && err.kind === "preconditionFailed") throw new AppError("conflict", "The run changed meanwhile; read it again.", { code: "sync-run-changed" });
    throw err;
  }
  await deps.audit.append(tenantId, {
    actor: actorOf(principal),
    action: "sync.run.approve",
    target: { type: "environment", id: environmentId },
    phase: "record",
    outcome: "succeeded",
    context: { runId, disables: run.guard.disables, enabledUsers: run.guard.enabledUsers, thresholdPercent: run.guard.thresholdPercent },
  });
  await enqueueEnvironmentJob(deps.queue, tenantId, { environmentId, runId, step: run.step });
  return run;
}
