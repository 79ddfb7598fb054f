import { AppError } from "../errors/app-error.js";
import { newEnvelope } from "../queue/envelope.js";
import type { QueueSender } from "../queue/transport.js";

/**
 * P11: waiting work is applied when automation resumes. Events and sync runs that met the pause
 * wait on their queues and go on by themselves; the scheduled runs that found the tenant paused
 * (L11 trial expiry, nightly; A13 reclamation) would wait for their next schedule. Resuming sends
 * one `automation-resumed` message, whose handler runs them for the tenant at once.
 */
export const AUTOMATION_RESUMED_KIND = "automation-resumed";

/** After a PUT of the pause switch: announces the resume when it went from paused to not paused. */
export async function announceResume(
  queue: QueueSender, tenantId: string, before: { paused: boolean }, after: { paused: boolean }, warn: (msg: string) => void,
): Promise<boolean> {
  if (!before.paused || after.paused) return false;
  try {
    await queue.send(newEnvelope({ kind: AUTOMATION_RESUMED_KIND, tenantId, body: {} }));
    return true;
  } catch (err) {
    // The switch is saved; what waits is done by its next scheduled run instead (nothing is lost).
    warn(`P11: automation resumed for ${tenantId}, but the resume could not be queued (${err instanceof Error ? err.message : String(err)}); the scheduled runs will do the waiting work.`);
    return false;
  }
}

/** The runs a pause skipped (noted by the scheduled runs that found the tenant paused), each cleared once it ran. */
export interface SkippedRuns {
  has(run: string): boolean;
  clear(run: string): Promise<void>;
}

/** A run that a pause may have skipped, run again for one tenant; `isPaused` is read fresh. */
export interface ResumedRun {
  name: string;
  run(tenantId: string, isPaused: (tenantId: string) => Promise<boolean>): Promise<Record<string, unknown>>;
}

/**
 * The handler's work: nothing if the tenant is paused again; otherwise each run the pause skipped
 * (`skipped`: the runs noted as skipped while paused, cleared once they ran; every run without it),
 * one failure not stopping the others. A run that failed for a passing reason (throttling, a dependency down) makes
 * the message fail afterwards, so the queue delivers it again (the runs are idempotent: they read
 * what is still to do); any other failure is reported through `warn` and left to the schedule.
 */
export async function runResumedWork(
  tenantId: string, isPausedNow: (tenantId: string) => Promise<boolean>, runs: readonly ResumedRun[], warn: (msg: string) => void,
  skipped?: SkippedRuns,
): Promise<Record<string, unknown>> {
  if (await isPausedNow(tenantId)) return { paused: true };
  const out: Record<string, unknown> = {};
  let retry: AppError | undefined;
  for (const r of runs) {
    if (skipped && !skipped.has(r.name)) {
      out[r.name] = { notSkipped: true };
      continue;
    }
    try {
      const result = await r.run(tenantId, isPausedNow);
      out[r.name] = result;
      if (result.paused !== true) await skipped?.clear(r.name);
    } catch (err) {
      out[r.name] = { error: err instanceof Error ? err.message : String(err) };
      if (err instanceof AppError && err.transient) retry ??= err;
      else warn(`P11: ${r.name} after automation resumed failed for ${tenantId}: ${err instanceof Error ? err.message : String(err)}; its next scheduled run does it.`);
    }
  }
  if (retry) throw retry;
  return out;
}
