import { autoClaim, reclaimDeps } from "../autoclaim/composition.js";
import { runReclamation } from "../autoclaim/reclaim.js";
import { registerEnvelopeHandler } from "../events/dispatch.js";
import { licensing, trialExpiryDeps } from "../licenses/composition.js";
import { expireTrials } from "../licenses/trial-expiry.js";
import { getRuntime } from "../runtime.js";
import { getSyncDeps } from "../sync/deps.js";
import { enqueueDirectoryJob } from "../sync/jobs.js";
import { AUTOMATION_RESUMED_KIND, runResumedWork, type ResumedRun } from "./resume.js";
import { skippedWhilePaused } from "./skipped-while-paused.js";

/** The scheduled runs a pause may have skipped: L11 trial expiry and A13 reclamation, for one tenant. */
export function resumedRuns(warn: (msg: string) => void): ResumedRun[] {
  return [
    {
      name: "trialExpiry",
      run: async (tenantId, isPaused) => {
        const r = await expireTrials({ ...trialExpiryDeps(await licensing()), isPaused }, tenantId, new Date());
        return { paused: r.paused, expired: r.expired.length, failed: r.failed.length, skipped: r.skipped.length };
      },
    },
    { name: "reclamation", run: async (tenantId, isPaused) => runReclamation(reclaimDeps(await autoClaim(), { isPaused, tenantIds: [tenantId] }), warn) },
  ];
}

let registered = false;

/** P11: `automation-resumed` envelopes (events-process dispatches them) run the skipped work now. */
export function registerResumeHandler(): void {
  if (registered) return;
  registered = true;
  registerEnvelopeHandler(AUTOMATION_RESUMED_KIND, async (envelope, context) => {
    const rt = await getRuntime();
    // The switch itself, not the 10-s cache that may still say "paused".
    const isPausedNow = async (tenantId: string) => (await rt.settings.get(tenantId, "automation")).value.paused;
    const warn = (msg: string) => context.warn(msg);
    const runs = resumedRuns(warn);
    const skipped = await skippedWhilePaused(envelope.tenantId, ["trialExpiry", "reclamation"]);
    const result = await runResumedWork(envelope.tenantId, isPausedNow, runs, warn, skipped);
    // Sync runs that met the pause wait for a directory cycle: one starts now (it resumes them and
    // reads what changed meanwhile), not at the next schedule.
    if (!result.paused) {
      await getSyncDeps().then((deps) => enqueueDirectoryJob(deps.queue, envelope.tenantId, { trigger: "resume" })).catch((err: unknown) =>
        warn(`P11: the sync's resume could not be queued (${err instanceof Error ? err.message : String(err)}); the next scheduled cycle resumes it.`),
      );
    }
    context.log(JSON.stringify({ event: "automation-resumed", tenantId: envelope.tenantId, ...result }));
  });
}
