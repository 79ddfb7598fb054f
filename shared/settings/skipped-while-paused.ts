import { getRuntime } from "../runtime.js";
import { deleteItem, readItem, upsert } from "../storage/repository.js";
import type { SkippedRuns } from "./resume.js";

/**
 * P11: the scheduled runs that found a tenant paused (L11 trial expiry, A13 reclamation) note it,
 * and resuming runs only what was noted - not every run, which would remove expired trials hours
 * before their schedule after a pause of seconds. Notes live in the `settings` container (partition
 * key /tenantId), one per run.
 */
export type SkippableRun = "trialExpiry" | "reclamation";

const noteId = (run: SkippableRun) => `skipped-while-paused:${run}`;

export async function noteSkippedWhilePaused(tenantId: string, run: SkippableRun, at = new Date()): Promise<void> {
  const rt = await getRuntime();
  await upsert(rt.container("settings"), { id: noteId(run), type: "skipped-while-paused", tenantId, run, at: at.toISOString() });
}

/** The runs noted for the tenant, each with a `clear` for once it has run. */
export async function skippedWhilePaused(tenantId: string, runs: readonly SkippableRun[]): Promise<SkippedRuns> {
  const settings = (await getRuntime()).container("settings");
  const noted = new Set<string>();
  for (const run of runs) if (await readItem(settings, noteId(run), tenantId)) noted.add(run);
  return {
    has: (run) => noted.has(run),
    clear: async (run) => {
      if (noted.has(run)) await deleteItem(settings, noteId(run as SkippableRun), tenantId);
    },
  };
}
