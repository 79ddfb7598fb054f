// P11 wiring: `automation-resumed` envelopes on the event queue (sent when a tenant's pause switch is
// turned off) run the scheduled work the pause skipped, for that tenant, now. No function of its own:
// events-process dispatches them.
import { autoClaim, reclaimDeps } from "../shared/autoclaim/composition.js";
import { runReclamation } from "../shared/autoclaim/reclaim.js";
import { registerEnvelopeHandler } from "../shared/events/dispatch.js";
import { licensing, trialExpiryDeps } from "../shared/licenses/composition.js";
import { expireTrials } from "../shared/licenses/trial-expiry.js";
import { getRuntime } from "../shared/runtime.js";
import { AUTOMATION_RESUMED_KIND, runResumedWork, type ResumedRun } from "../shared/settings/resume.js";

const RUNS: ResumedRun[] = [
  {
    name: "trialExpiry",
    run: async (tenantId, isPaused) => {
      const r = await expireTrials({ ...trialExpiryDeps(await licensing()), isPaused }, tenantId, new Date());
      return { paused: r.paused, expired: r.expired.length, failed: r.failed.length, skipped: r.skipped.length };
    },
  },
  { name: "reclamation", run: async (tenantId, isPaused) => runReclamation(reclaimDeps(await autoClaim(), { isPaused, tenantIds: [tenantId] })) },
];

registerEnvelopeHandler(AUTOMATION_RESUMED_KIND, async (envelope, context) => {
  const rt = await getRuntime();
  // Read the switch itself, not the 10-s cache that may still say "paused".
  const isPausedNow = async (tenantId: string) => (await rt.settings.get(tenantId, "automation")).value.paused;
  const result = await runResumedWork(envelope.tenantId, isPausedNow, RUNS);
  context.log(JSON.stringify({ event: "automation-resumed", tenantId: envelope.tenantId, ...result }));
});
