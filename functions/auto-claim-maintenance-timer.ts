import { app, type InvocationContext, type Timer } from "@azure/functions";
import { autoClaim } from "../shared/autoclaim/composition.js";
import { runMaintenance } from "../shared/autoclaim/maintenance.js";
import { getConfig } from "../shared/config/config.js";

/** A10: settle abandoned reservations and reconcile the counters with subscribedSkus. */
export async function handler(_timer: Timer, context: InvocationContext): Promise<void> {
  const ac = await autoClaim();
  const result = await runMaintenance(
    { tenants: ac.runtime.container("tenants"), policies: ac.policies, claims: ac.claims, reservations: ac.reservations, users: ac.users, events: ac.events, queue: ac.runtime.eventQueue, catalog: ac.licensing.catalog, now: () => new Date() },
    (msg) => context.warn(msg),
  );
  context.log(JSON.stringify({ event: "auto-claim-maintenance", ...result }));
}

app.timer("auto-claim-maintenance-timer", { schedule: getConfig().AUTOCLAIM_MAINTENANCE_SCHEDULE, handler });
