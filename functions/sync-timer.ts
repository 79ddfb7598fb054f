import { app, type InvocationContext, type Timer } from "@azure/functions";
import { getConfig } from "../shared/config/config.js";
import { getSyncDeps } from "../shared/sync/deps.js";
import { startSyncCycles } from "../shared/sync/timer.js";

/** D1: every SYNC_SCHEDULE, one directory job per tenant with an environment to sync; the queue does the work. */
export async function handler(_timer: Timer, context: InvocationContext): Promise<void> {
  const { tenants } = await startSyncCycles(await getSyncDeps());
  context.log(JSON.stringify({ event: "sync-timer", tenants: tenants.length }));
}

app.timer("sync-timer", { schedule: getConfig().SYNC_SCHEDULE, handler });
