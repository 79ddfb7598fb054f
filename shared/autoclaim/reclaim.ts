import type { Container } from "@azure/cosmos";
import { AppError } from "../errors/app-error.js";
import type { LicenseAssignments } from "../licenses/assign.js";
import { productOfApp, usageOfUsers } from "../licenses/usage.js";
import type { ClaimStore } from "./claims.js";
import type { PolicyDocument } from "./policy.js";
import { AUTO_CLAIM_ACTOR } from "./license-access.js";
import { activeTenantIds } from "../tenants/tenant-registry.js";
import type { Reservations } from "./reservations.js";

/**
 * A13 (beyond, off by default): a license claimed through a policy goes back to the pool when its
 * user has not used the app for the tenant's `reclaimAfterDays` days (its auto-claim settings; when
 * unset, the deployment's `afterDays`; 0 is off). Use comes from the usage records the claim
 * processor writes at every sign-in (shared/licenses/usage.ts), so only the apps those records
 * track (Power Apps, Power Automate) are reclaimed; last use defaults to the claim date. The claim
 * shows as reclaimed, with the reason, in the report; the license change is audited (L16).
 * Nothing is reclaimed while the tenant's auto-claim is off (A1: claimed licenses stay) or from a
 * policy that is disabled or deleted (A5: existing claims stay).
 */
export interface ReclaimDeps {
  tenants: Container;
  usage: Container;
  claims: ClaimStore;
  reservations: Reservations;
  assignments(): Promise<LicenseAssignments>;
  isPaused(tenantId: string): Promise<boolean>;
  /** A1 and A13: the tenant's switch and its reclamation days (null: `afterDays`). */
  autoClaimSettings(tenantId: string): Promise<{ enabled: boolean; reclaimAfterDays: number | null }>;
  /** The tenant's policies (A5: only an enabled policy's claims are reclaimed). */
  policies(tenantId: string): Promise<Pick<PolicyDocument, "id" | "enabled">[]>;
  /** The deployment's default days (AUTOCLAIM_RECLAIM_AFTER_DAYS; 0: off) for tenants that set none. */
  afterDays: number;
  now(): Date;
  /** Only these tenants (e.g. the one whose automation just resumed); every onboarded tenant by default. */
  tenantIds?: readonly string[];
  /** P11: a tenant found paused (the timer notes it, so resuming runs it). */
  onPaused?(tenantId: string): Promise<void>;
}

export async function runReclamation(deps: ReclaimDeps, log: (msg: string) => void = () => undefined): Promise<{ reclaimed: number; failed: number }> {
  const out = { reclaimed: 0, failed: 0 };
  for (const tenantId of deps.tenantIds ?? (await activeTenantIds(deps.tenants))) {
    // One tenant's failure (Graph or Cosmos down) does not stop the others.
    await reclaimTenant(deps, tenantId, out, log).catch((err: unknown) => {
      out.failed++;
      log(`A13: reclamation stopped for tenant ${tenantId}: ${err instanceof Error ? err.message : String(err)}`);
    });
  }
  return out;
}

async function reclaimTenant(deps: ReclaimDeps, tenantId: string, out: { reclaimed: number; failed: number }, log: (msg: string) => void): Promise<void> {
  const settings = await deps.autoClaimSettings(tenantId);
  const afterDays = settings.reclaimAfterDays ?? deps.afterDays;
  if (afterDays <= 0) return; // reclamation off for this tenant
  if (await deps.isPaused(tenantId)) return deps.onPaused?.(tenantId); // P11: automatic changes wait
  if (!settings.enabled) return;
  const cutoff = new Date(deps.now().getTime() - afterDays * 24 * 3600_000).toISOString();
  const enabled = new Set((await deps.policies(tenantId)).filter((p) => p.enabled).map((p) => p.id));
  const claims = (await deps.claims.claimed(tenantId)).filter((c) => productOfApp(c.appId) !== undefined && enabled.has(c.policyId));
  if (claims.length === 0) return;
  const usage = await usageOfUsers(deps.usage, tenantId, [...new Set(claims.map((c) => c.userId))]);
  for (const claim of claims) {
    const product = productOfApp(claim.appId);
    const lastUse = usage.find((u) => u.userId === claim.userId && u.product === product)?.lastAccessAt ?? claim.claimedAt ?? claim.createdAt;
    if (lastUse >= cutoff) continue;
    const reason = `not used for ${afterDays} days (last use ${lastUse}); returned to the pool (A13)`;
    try {
      await (await deps.assignments()).assignLicenses({
        tenantId,
        actor: AUTO_CLAIM_ACTOR,
        userId: claim.userId,
        remove: [claim.skuId],
        reason,
        context: { policyId: claim.policyId, claimEventId: claim.eventId, appId: claim.appId },
        graphMode: "background",
      });
    } catch (err) {
      // Already gone (an admin removed it, or the product left the tenant): the claim is over either way.
      if (!(err instanceof AppError && (err.code === "license-not-assigned" || err.code === "unknown-product" || err.kind === "notFound"))) {
        out.failed++;
        log(`A13: could not reclaim ${claim.skuId} from ${claim.userId}: ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
    }
    // Another run (the schedule, or a resume) may have reclaimed it meanwhile: its unit is given back once.
    if (!(await deps.claims.markReclaimed(claim, deps.now(), reason))) continue;
    await deps.reservations.release(tenantId, { skuId: claim.skuId, shard: claim.shard }).catch(() => undefined);
    out.reclaimed++;
  }
}
