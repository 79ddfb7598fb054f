import type { z } from "zod";
import type { Principal } from "../auth/token-validator.js";
import { AppError, notFound } from "../errors/app-error.js";
import { decodeCursor, encodeCursor } from "../http/conventions.js";
import type { SyncDeps } from "../sync/deps.js";
import { environmentPartition, type RunDocument } from "../sync/documents.js";
import { enqueueDirectoryJob, enqueueEnvironmentJob } from "../sync/jobs.js";
import { environmentPolicy } from "../sync/environment-types.js";
import { newEnvState, newRun, TERMINAL_STATES } from "../sync/runs.js";
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
    guard: run.guard && { ...run.guard, rejectedBy: run.guard.rejectedBy ?? null, rejectedAt: run.guard.rejectedAt ?? null },
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
  const policy = environmentPolicy(env);
  // The directory cycle runs only environments whose type it manages: a run of another would stay queued.
  if (!policy.usersAllowed) throw new AppError("businessRule", `Environment ${env.id}: ${policy.summary}`, { code: "environment-not-synced" });
  const existing = await deps.store.readEnvState(tenantId, env.id);
  if (existing?.doc.activeRunId && !(await hasEnded(deps, tenantId, env.id, existing.doc.activeRunId))) {
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

/** The environment still names a run that ended (its worker or an admin stopped before releasing it): it holds nothing. */
async function hasEnded(deps: SyncDeps, tenantId: string, environmentId: string, runId: string): Promise<boolean> {
  const found = await deps.store.readRun(tenantId, environmentId, runId);
  return !found || TERMINAL_STATES.has(found.doc.state);
}

export async function getRun(deps: SyncDeps, tenantId: string, environmentId: string, runId: string): Promise<RunDocument> {
  const found = await deps.store.readRun(tenantId, environmentId, runId);
  if (!found) throw notFound(`Sync run ${runId}`);
  return found.doc;
}

export async function listRuns(deps: SyncDeps, tenantId: string, environmentId: string, query: { limit: number; cursor?: string | undefined }) {
  await requireEnvironment(deps, tenantId, environmentId); // an unknown environment is a 404, not an empty list
  const filter = { environmentId };
  const continuationToken = decodeCursor(query.cursor, tenantId, filter) ?? null;
  const page = await deps.store.listRuns(tenantId, environmentId, { limit: query.limit, continuationToken });
  return {
    items: page.items.map(runView),
    nextCursor: page.continuationToken ? encodeCursor(tenantId, filter, page.continuationToken) : null,
  };
}

/**
 * D13: an admin approves a held run; it continues with the plan it made (nothing was applied
 * before), and each disable is judged again against the directory when it is applied.
 */
export async function approveRun(deps: SyncDeps, tenantId: string, environmentId: string, runId: string, principal: Principal): Promise<RunDocument> {
  const { found, guard } = await readHeldRun(deps, tenantId, environmentId, runId);
  const run = found.doc;
  const now = deps.now();
  run.guard = { ...guard, approvedBy: principal.objectId, approvedAt: now.toISOString() };
  run.state = "running";
  run.step += 1;
  run.lease = null;
  run.heartbeatAt = now.getTime();
  await saveDecision(deps, run, found.etag);
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

/**
 * D13: an admin refuses what a held run would disable: the run ends `rejected` with nothing applied
 * and the environment is free again. Its cursor stays where it was, so the next run plans the same
 * changes again (and is held again if the directory still asks for as many disables).
 */
export async function rejectRun(deps: SyncDeps, tenantId: string, environmentId: string, runId: string, principal: Principal): Promise<RunDocument> {
  const { found, guard } = await readHeldRun(deps, tenantId, environmentId, runId);
  const run = found.doc;
  const now = deps.now();
  run.guard = { ...guard, rejectedBy: principal.objectId, rejectedAt: now.toISOString() };
  run.state = "rejected";
  run.step += 1;
  run.lease = null;
  run.heartbeatAt = now.getTime();
  run.finishedAt = now.toISOString();
  run.durationMs = run.startedAt ? now.getTime() - Date.parse(run.startedAt) : null;
  await saveDecision(deps, run, found.etag);
  // Once the run is terminal, a crash from here on loses nothing: the next directory cycle (or POST
  // …/sync-runs) releases an environment whose active run has ended.
  await releaseEnvironment(deps, run);
  if (run.plan?.chunks) {
    await deps.store.deleteChunks(environmentPartition(tenantId, environmentId), Array.from({ length: run.plan.chunks }, (_, i) => `plan|${run.runId}|${i}`));
  }
  await deps.audit.append(tenantId, {
    actor: actorOf(principal),
    action: "sync.run.reject",
    target: { type: "environment", id: environmentId },
    phase: "record",
    outcome: "succeeded",
    context: { runId, disables: guard.disables, enabledUsers: guard.enabledUsers, thresholdPercent: guard.thresholdPercent },
  });
  return run;
}

async function readHeldRun(deps: SyncDeps, tenantId: string, environmentId: string, runId: string) {
  const found = await deps.store.readRun(tenantId, environmentId, runId);
  if (!found) throw notFound(`Sync run ${runId}`);
  const { state, guard } = found.doc;
  if (state !== "awaiting-approval" || !guard) {
    throw new AppError("conflict", `Sync run ${runId} is ${state}, not waiting for approval.`, { code: "sync-run-not-awaiting-approval", extensions: { state } });
  }
  return { found, guard };
}

/** An approval or rejection, saved only over the held run it was decided on. */
async function saveDecision(deps: SyncDeps, run: RunDocument, etag: string): Promise<void> {
  try {
    await deps.store.save(run, etag);
  } catch (err) {
    if (err instanceof AppError && err.kind === "preconditionFailed") throw new AppError("conflict", "The run changed meanwhile; read it again.", { code: "sync-run-changed" });
    throw err;
  }
}

/** The environment's active run ended without applying anything: free it and record it as the last run. */
async function releaseEnvironment(deps: SyncDeps, run: RunDocument): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const es = await deps.store.readEnvState(run.tenantId, run.environmentId);
    if (es?.doc.activeRunId !== run.runId) return;
    const doc = { ...es.doc, activeRunId: null, lastRun: { runId: run.runId, state: run.state, finishedAt: run.finishedAt, counts: run.counts } };
    try {
      await deps.store.save(doc, es.etag);
      return;
    } catch (err) {
      if (!(err instanceof AppError && err.kind === "preconditionFailed")) throw err;
    }
  }
}
