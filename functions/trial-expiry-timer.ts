import { app, type InvocationContext, type Timer } from "@azure/functions";
import { licensing, trialExpiryDeps } from "../shared/licenses/composition.js";
import { expireTrialsForAllTenants } from "../shared/licenses/trial-expiry.js";
import { noteSkippedWhilePaused } from "../shared/settings/skipped-while-paused.js";

/** L11: every night, trial licenses past their 90 days are removed (the use-case takes the clock). */
export async function handler(_timer: Timer, context: InvocationContext): Promise<void> {
  const l = await licensing();
  const reports = await expireTrialsForAllTenants(trialExpiryDeps(l), l.runtime.container("tenants"), new Date(), (entry) => context.log(JSON.stringify(entry)));
  // P11: resuming runs what a pause skipped.
  for (const r of reports) if (r.paused) await noteSkippedWhilePaused(r.tenantId, "trialExpiry");
}

app.timer("trial-expiry-timer", { schedule: "0 0 3 * * *", handler });
