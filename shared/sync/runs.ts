import { randomUUID } from "node:crypto";
import { directoryPartition, environmentPartition, zeroCounts, type EnvState, type RunDocument } from "./documents.js";

/** A new run of one environment (D11): queued until the tenant's next directory cycle starts it. */
export function newRun(input: { tenantId: string; environmentId: string; trigger: "schedule" | "manual"; requestedBy: string | null; now: Date }): RunDocument {
  const runId = randomUUID();
  return {
    id: `run|${runId}`,
    type: "run",
    runId,
    tenantId: input.tenantId,
    environmentId: input.environmentId,
    partitionKey: environmentPartition(input.tenantId, input.environmentId),
    trigger: input.trigger,
    requestedBy: input.requestedBy,
    state: "queued",
    phase: "plan",
    full: input.trigger === "manual",
    fromCycle: 0,
    targetCycle: null,
    createdAt: input.now.toISOString(),
    startedAt: null,
    finishedAt: null,
    durationMs: null,
    step: 1,
    lease: null,
    heartbeatAt: input.now.getTime(),
    resumeAt: null,
    environment: null,
    settings: null,
    plan: null,
    progress: { chunk: 0, position: 0, doneInWindow: [] },
    counts: zeroCounts(),
    guard: null,
    batchSize: null,
    pausedReason: null,
    error: null,
    failures: [],
  };
}

export function newEnvState(tenantId: string, environmentId: string): EnvState {
  return {
    id: `env|${environmentId}`,
    type: "env-state",
    tenantId,
    partitionKey: directoryPartition(tenantId),
    environmentId,
    cursor: 0,
    lastFullAt: null,
    enabledUsers: null,
    activeRunId: null,
    lastRun: null,
    batchSize: null,
  };
}

/** States a run never leaves; `rejected`: an admin refused what the D13 guard held (nothing was applied). */
export const TERMINAL_STATES = new Set<RunDocument["state"]>(["succeeded", "failed", "rejected"]);

/**
 * A run nobody works on: not finished, not waiting for an admin, and past its lease, its last
 * checkpoint and any planned resume by more than a lease (its worker crashed or its message was lost).
 * A run held for approval is never stalled: an admin approves or rejects it (D13), which frees it.
 */
export function isStalled(run: RunDocument, now: number, leaseSeconds: number): boolean {
  if (TERMINAL_STATES.has(run.state) || run.state === "awaiting-approval") return false;
  if (run.state === "queued" && run.targetCycle === null) return false;
  const grace = leaseSeconds * 1000;
  const busyUntil = Math.max(run.lease?.expiresAt ?? 0, run.heartbeatAt + grace, (run.resumeAt ?? 0) + grace);
  return now > busyUntil;
}

/**
 * D11: how long a run worked, ending at `end`: from its start, less the time the mass-disable guard
 * held it waiting for an admin (D13) - the admin's time is not the run's.
 */
export function runDurationMs(run: Pick<RunDocument, "startedAt" | "guard">, end: Date): number | null {
  if (!run.startedAt) return null;
  const guard = run.guard;
  const decidedAt = guard ? Date.parse(guard.approvedAt ?? guard.rejectedAt ?? end.toISOString()) : NaN;
  const held = guard?.heldAt ? decidedAt - Date.parse(guard.heldAt) : 0;
  return end.getTime() - Date.parse(run.startedAt) - (Number.isFinite(held) ? Math.max(0, held) : 0);
}
