import { getRuntime } from "../runtime.js";

/**
 * P11: whether automatic changes (claims, sync writes, trial expiry) are paused for a tenant.
 * Automatic paths ask this before every write; the answer is at most 10 s old. Paused work is
 * kept (re-enqueued with a delay, or left for the next run), never dropped.
 */
export async function isAutomationPaused(tenantId: string): Promise<boolean> {
  const { settings } = await getRuntime();
  return (await settings.current(tenantId, "automation")).paused;
}

/** A1: whether the auto-claim feature is on for a tenant (off by default). */
export async function isAutoClaimEnabled(tenantId: string): Promise<boolean> {
  return (await autoClaimSettings(tenantId)).enabled;
}

/** A1 and A13: the tenant's auto-claim settings (at most 10 s old). */
export async function autoClaimSettings(tenantId: string): Promise<{ enabled: boolean; reclaimAfterDays: number | null }> {
  const { settings } = await getRuntime();
  return settings.current(tenantId, "auto-claim");
}
