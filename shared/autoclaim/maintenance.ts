import type { Container } from "@azure/cosmos";
import type { EventStore } from "../events/event-store.js";
import type { CatalogService } from "../licenses/catalog.js";
import { firstAccessEnvelope } from "../sync/first-access.js";
import { SIGN_IN_EVENT_KIND, type SignInEnvelopeBody } from "../events/sign-in-event.js";
import { newEnvelope } from "../queue/envelope.js";
import type { QueueSender } from "../queue/transport.js";
import { activeTenantIds } from "../tenants/tenant-registry.js";
import type { UserReader } from "./license-access.js";
import type { ClaimStore } from "./claims.js";
import type { PolicyStore } from "./policy-store.js";
import type { Reservations } from "./reservations.js";

/**
 * A10 housekeeping (timer): pending claims past their expiry are settled - claimed if Graph shows
 * the license (the worker died after Graph answered; the event then shows claimed), otherwise the
 * reservation is given back and the event is queued again - and every policy product's counters
 * are reconciled with subscribedSkus.
 */
export interface MaintenanceDeps {
  tenants: Container;
  policies: PolicyStore;
  claims: ClaimStore;
  reservations: Reservations;
  users: UserReader;
  events: EventStore;
  queue: QueueSender;
  /** Names the product of a claim it settles (the event shows it as a claim by the processor does). */
  catalog: Pick<CatalogService, "get">;
  now(): Date;
}

export interface MaintenanceResult {
  tenants: number;
  settled: number;
  released: number;
  reconciled: number;
}


export async function runMaintenance(deps: MaintenanceDeps, log: (msg: string) => void = () => undefined): Promise<MaintenanceResult> {
  const result: MaintenanceResult = { tenants: 0, settled: 0, released: 0, reconciled: 0 };
  for (const tenantId of await activeTenantIds(deps.tenants)) {
    const policies = await deps.policies.all(tenantId);
    if (policies.length === 0) continue;
    result.tenants++;
    try {
      for (const pending of await deps.claims.expiredPending(tenantId, deps.now())) {
        const user = await deps.users.read(tenantId, pending.userId);
        // Each only if the claim is still as read: a new event may have taken it over meanwhile
        // (then its unit is that event's, and so is the claim).
        if (user?.assignedLicenses.some((l) => l.skuId === pending.skuId)) {
          if (!(await deps.claims.markClaimedIf(pending, deps.now()))) continue;
          const skuPartNumber = await deps.catalog
            .get(tenantId)
            .then((c) => c.products.find((p) => p.skuId === pending.skuId)?.skuPartNumber ?? null)
            .catch(() => null); // the name only: a settled claim is recorded whether or not the catalog answers
          const forwarded = await forwardFirstAccess(deps, tenantId, pending.eventId, pending.skuId);
          await deps.events.setOutcome(tenantId, pending.eventId, {
            status: "claimed",
            claim: { policyId: pending.policyId, policyName: pending.policyName, skuId: pending.skuId, skuPartNumber },
            ...(forwarded ? { firstAccess: "forwarded" as const } : {}),
          });
          result.settled++;
        } else {
          if (!(await deps.claims.remove(pending))) continue;
          await deps.reservations.release(tenantId, { skuId: pending.skuId, shard: pending.shard });
          await requeue(deps, tenantId, pending.eventId);
          result.released++;
        }
      }
      const skus = new Set(policies.flatMap((p) => p.products.map((x) => x.skuId)));
      for (const skuId of skus) {
        await deps.reservations.reconcile(tenantId, skuId);
        result.reconciled++;
      }
    } catch (err) {
      log(`auto-claim maintenance failed for tenant ${tenantId}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return result;
}

/**
 * D4: an event whose claim maintenance settles may not have handed its first access to the sync
 * (its worker stopped between the claim and the hand-over): handed over now, once (the envelope's
 * id is the event's). True when the event reports one.
 */
async function forwardFirstAccess(deps: MaintenanceDeps, tenantId: string, eventId: string, claimedSkuId: string): Promise<boolean> {
  const doc = await deps.events.get(tenantId, eventId).catch(() => undefined);
  const environmentId = doc?.event.environmentId;
  if (!doc || !environmentId) return false;
  if (doc.firstAccess === "forwarded") return true;
  return deps.queue.send(firstAccessEnvelope(tenantId, { ...doc.event, environmentId }, claimedSkuId)).then(() => true, () => false);
}

/**
 * Queues an event again whose claim was abandoned (its worker died before Graph answered): one
 * still waiting for its outcome - queued, waiting out a pause, or deferred by the daily cap (its
 * processing began on a later day). An event that failed or gave up stays as it is (A11).
 */
async function requeue(deps: MaintenanceDeps, tenantId: string, eventId: string): Promise<void> {
  const doc = await deps.events.get(tenantId, eventId);
  if (!doc || (doc.status !== "queued" && doc.status !== "waiting" && doc.status !== "deferred")) return;
  const body: SignInEnvelopeBody = { event: doc.event, source: doc.source, caller: doc.caller, receivedAt: doc.receivedAt };
  await deps.queue.send(newEnvelope({ kind: SIGN_IN_EVENT_KIND, tenantId, body, id: `${eventId}.requeued-${deps.now().getTime()}`.slice(0, 200) }));
}
