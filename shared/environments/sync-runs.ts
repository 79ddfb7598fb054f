import type { z } from "zod";
import type { Principal } from "../auth/token-validator.js";
import { AppError, notFound } from "../errors/app-error.js";
import { decodeCursor, encodeCursor } from "../http/conventions.js";
import type { SyncDeps } from "../sync/deps.js";
import type { RunDocument, RunGuard } from "../sync/documents.js";
import { enqueueDirectoryJob, enqueueEnvironmentJob } from "../sync/jobs.js";
import { environmentPolicy } from "../sync/environment-types.js";
import { newRun, runDurationMs, TERMINAL_STATES } from "../sync/runs.js";
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
    waitingUntil: run.resumeAt !== null && !TERMINAL_STATES.has(run.state) ? new Date(run.resumeAt).toISOString() : null,
    error: run.error,
    failures: run.failures,
  };
}

export const runLocation = (tenantId: string, environmentId: string, runId: string) => `/api/tenants/${tenantId}/environments/${environmentId}/sync-runs/${runId}`;

/**
 * Starts a run now: it is queued on the environment (one run at a time: 409 otherwise) and the
 * tenant's directory cycle is asked to start, which reads the directory and then runs it.
 */
/** Off (the default) means this product does not manage the environment: nothing runs, or goes on running, there. */
async function requireSyncEnabled(deps: SyncDeps, tenantId: string, environmentId: string, what: string): Promise<void> {
  if (!(await deps.settings.get(tenantId, environmentId)).value.syncEnabled) {
    throw new AppError("businessRule", `Sync is off for environment ${environmentId}: turn it on (PATCH …/environments/${environmentId} {"syncEnabled": true}) to ${what}.`, {
      code: "sync-disabled",
    });
  }
}

export async function startRun(deps: SyncDeps, tenantId: string, environmentId: string, principal: Principal): Promise<RunDocument> {
  const env = await requireEnvironment(deps, tenantId, environmentId);
  requireDataverse(env);
  const policy = environmentPolicy(env);
  // The directory cycle runs only environments whose type it manages: a run of another would stay queued.
  if (!policy.usersAllowed) throw new AppError("businessRule", `Environment ${env.id}: ${policy.summary}`, { code: "environment-not-synced" });
  await requireSyncEnabled(deps, tenantId, env.id, "run it");
  const existing = await deps.store.readEnvState(tenantId, env.id);
  if (existing?.doc.activeRunId && !(await hasEnded(deps, tenantId, env.id, existing.doc.activeRunId))) {
    throw new AppError("conflict", `A sync run of environment ${env.id} is in progress (${existing.doc.activeRunId}).`, {
      code: "sync-run-in-progress",
      extensions: { runId: existing.doc.activeRunId },
    });
  }
  const run = newRun({ tenantId, environmentId: env.id, trigger: "manual", requestedBy: principal.objectId, now: deps.now() });
  await deps.store.save(run, undefined);
  // The environment's state may name a run that ended (checked above): this one replaces it.
  const claim = await deps.store.claimEnvironment(tenantId, env.id, run.runId, existing, existing?.doc.activeRunId ?? null).catch(async (err: unknown) => {
    await deps.store.deleteMany(run.partitionKey, [run.id]);
    throw err;
  });
  if (!claim.claimed) {
    await deps.store.deleteMany(run.partitionKey, [run.id]);
    // The run that won names itself in the environment's state (errors.md: runId is always given).
    const winner = claim.activeRunId;
    throw new AppError("conflict", `A sync run of environment ${env.id} was started at the same moment${winner ? ` (${winner})` : ""}.`, {
      code: "sync-run-in-progress",
      ...(winner ? { extensions: { runId: winner } } : {}),
    });
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
  const run = await decideHeldRun(deps, tenantId, environmentId, runId, async () => {
    // Turned off while the run waited: approving would change the environment anyway (rejecting stays possible).
    await requireSyncEnabled(deps, tenantId, environmentId, "approve the run, or reject it");
  }, (held, guard, at) => {
    held.guard = { ...guard, approvedBy: principal.objectId, approvedAt: at.toISOString() };
    held.state = "running";
  });
  await auditDecision(deps, principal, run, "sync.run.approve");
  await enqueueEnvironmentJob(deps.queue, tenantId, { environmentId, runId, step: run.step });
  return run;
}

/**
 * D13: an admin refuses what a held run would disable: the run ends `rejected` with nothing applied
 * and the environment is free again. Its cursor stays where it was, so the next run plans the same
 * changes again (and is held again if the directory still asks for as many disables).
 */
export async function rejectRun(deps: SyncDeps, tenantId: string, environmentId: string, runId: string, principal: Principal): Promise<RunDocument> {
  const run = await decideHeldRun(deps, tenantId, environmentId, runId, () => Promise.resolve(), (held, guard, at) => {
    held.guard = { ...guard, rejectedBy: principal.objectId, rejectedAt: at.toISOString() };
    held.state = "rejected";
    held.finishedAt = at.toISOString();
    held.durationMs = runDurationMs(held, at);
  });
  // Once the run is terminal, a crash from here on loses nothing: the next directory cycle (or POST
  // …/sync-runs) releases an environment whose active run has ended.
  await deps.store.releaseEnvironment(run, { onlyIfActive: true });
  await deps.store.deletePlan(run);
  await auditDecision(deps, principal, run, "sync.run.reject");
  return run;
}

/** An admin's decision on a run the D13 guard holds (409 for any other), saved only over the run it was decided on. */
async function decideHeldRun(
  deps: SyncDeps, tenantId: string, environmentId: string, runId: string, allowed: () => Promise<void>, decide: (run: RunDocument, guard: RunGuard, at: Date) => void,
): Promise<RunDocument> {
  const found = await deps.store.readRun(tenantId, environmentId, runId);
  if (!found) throw notFound(`Sync run ${runId}`);
  const run = found.doc;
  if (run.state !== "awaiting-approval" || !run.guard) {
    throw new AppError("conflict", `Sync run ${runId} is ${run.state}, not waiting for approval.`, { code: "sync-run-not-awaiting-approval", extensions: { state: run.state } });
  }
  // The decision's own precondition, once the run is known to be held (404 and 409 come first).
  await allowed();
  const now = deps.now();
  decide(run, run.guard, now);
  run.step += 1;
  run.lease = null;
  run.heartbeatAt = now.getTime();
  try {
    await deps.store.save(run, found.etag);
  } catch (err) {
    if (err instanceof AppError && err.kind === "preconditionFailed") throw new AppError("conflict", "The run changed meanwhile; read it again.", { code: "sync-run-changed" });
    throw err;
  }
  return run;
}

async function auditDecision(deps: SyncDeps, principal: Principal, run: RunDocument, action: "sync.run.approve" | "sync.run.reject"): Promise<void> {
  const guard = run.guard!;
  await deps.audit.append(run.tenantId, {
    actor: actorOf(principal),
    action,
    target: { type: "environment", id: run.environmentId },
    phase: "record",
    outcome: "succeeded",
    context: { runId: run.runId, disables: guard.disables, enabledUsers: guard.enabledUsers, thresholdPercent: guard.thresholdPercent },
  });
}
