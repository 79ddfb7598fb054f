import { app, type InvocationContext, type Timer } from "@azure/functions";
import { autoClaim, reclaimDeps } from "../shared/autoclaim/composition.js";
import { runReclamation } from "../shared/autoclaim/reclaim.js";
import { getConfig } from "../shared/config/config.js";
import { noteSkippedWhilePaused } from "../shared/settings/skipped-while-paused.js";

/** A13 (off by default; per tenant in its auto-claim settings, else AUTOCLAIM_RECLAIM_AFTER_DAYS): return claimed licenses unused for N days. */
export async function handler(_timer: Timer, context: InvocationContext): Promise<void> {
  // P11: resuming runs what a pause skipped.
  const result = await runReclamation(reclaimDeps(await autoClaim(), { onPaused: (tenantId) => noteSkippedWhilePaused(tenantId, "reclamation") }), (msg) => context.warn(msg));
  context.log(JSON.stringify({ event: "auto-claim-reclaim", ...result }));
}

app.timer("auto-claim-reclaim-timer", { schedule: getConfig().AUTOCLAIM_RECLAIM_SCHEDULE, handler });
