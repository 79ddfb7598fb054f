import type { SyncDeps } from "./deps.js";
import { enqueueDirectoryJob } from "./jobs.js";

/**
 * D1: the sync timer. It only enqueues: one directory job per tenant that has an environment to
 * sync (or a run in progress to resume); the queue workers do the work, so a large tenant fans
 * out and one slow environment holds up no other.
 */
export async function startSyncCycles(deps: Pick<SyncDeps, "settings" | "store" | "queue">): Promise<{ tenants: string[] }> {
  const [scheduled, active] = await Promise.all([deps.settings.tenantsWithSyncEnabled(), deps.store.tenantsWithActiveRuns()]);
  const tenants = [...new Set([...scheduled, ...active])].sort();
  for (const tenantId of tenants) await enqueueDirectoryJob(deps.queue, tenantId, { trigger: "schedule" });
  return { tenants };
}
