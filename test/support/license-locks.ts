import type { Database } from "@azure/cosmos";

/**
 * License change locks keep what a change wrote for Graph's read lag (shared/licenses/recent-writes.ts).
 * A test that resets the simulated cloud, or that stands for time passing, moves those writes back
 * by `ms` (default: far enough that none counts any more).
 */
export async function forgetRecentLicenseWrites(database: Database, ms = 24 * 3600_000): Promise<void> {
  const container = database.container("leases");
  const { resources } = await container.items
    .query<{ id: string; written?: { at: string } }>("SELECT * FROM c WHERE c.type = 'license-change-lock'")
    .fetchAll();
  await Promise.all(
    resources
      .filter((item) => item.written)
      .map((item) => container.item(item.id, item.id).replace({ ...item, written: { ...item.written, at: new Date(Date.parse(item.written!.at) - ms).toISOString() } })),
  );
}
