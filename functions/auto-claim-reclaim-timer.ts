import { app, type InvocationContext, type Timer } from "@azure/functions";
import { autoClaim } from "../shared/autoclaim/composition.js";
import { runReclamation } from "../shared/autoclaim/reclaim.js";
import { getConfig } from "../shared/config/config.js";
import { isAutoClaimEnabled, isAutomationPaused } from "../shared/settings/automation.js";

/** A13 (off by default: AUTOCLAIM_RECLAIM_AFTER_DAYS=0): return claimed licenses unused for N days. */
export async function handler(_timer: Timer, context: InvocationContext): Promise<void> {
  const ac = await autoClaim();
  const result = await runReclamation(
    {
      tenants: ac.runtime.container("tenants"),
      usage: ac.runtime.container("usage"),
      claims: ac.claims,
      reservations: ac.reservations,
      assignments: () => Promise.resolve(ac.licensing.assignments),
      isPaused: isAutomationPaused,
      isAutoClaimEnabled,
      policies: (tenantId) => ac.policies.all(tenantId),
      afterDays: ac.runtime.config.AUTOCLAIM_RECLAIM_AFTER_DAYS,
      now: () => new Date(),
    },
    (msg) => context.warn(msg),
  );
  context.log(JSON.stringify({ event: "auto-claim-reclaim", ...result }));
}

app.timer("auto-claim-reclaim-timer", { schedule: getConfig().AUTOCLAIM_RECLAIM_SCHEDULE, handler });
