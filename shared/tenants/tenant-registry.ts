import type { Container } from "@azure/cosmos";
import { ifMatchAccepts } from "../http/conventions.js";
import { AppError } from "../errors/app-error.js";
import type { Principal } from "../auth/token-validator.js";
import type { AuditLog } from "../audit/audit-log.js";
import { createItem, queryAll, readItem, replaceIfMatch } from "../storage/repository.js";
import type { OnboardTenantBody, Tenant } from "./tenant.js";

type TenantDocument = Tenant & { id: string };

/** Rounds of read-and-write a PUT makes when other writers keep changing the tenant meanwhile. */
const ONBOARD_ATTEMPTS = 10;

/** How long a positive "is onboarded" answer is trusted without reading Cosmos again. */
const ONBOARDED_CACHE_MS = 60_000;

/** The registry of onboarded tenants (container `tenants`, partition key = id = tenant id). */
export class TenantRegistry {
  private readonly onboardedUntil = new Map<string, number>();

  constructor(
    private readonly container: Container,
    private readonly audit: AuditLog,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async get(tenantId: string): Promise<{ tenant: Tenant; etag: string } | undefined> {
    const doc = await readItem<TenantDocument>(this.container, tenantId.toLowerCase(), tenantId.toLowerCase());
    return doc && { tenant: toTenant(doc), etag: doc._etag };
  }

  async isOnboarded(tenantId: string): Promise<boolean> {
    const key = tenantId.toLowerCase();
    if ((this.onboardedUntil.get(key) ?? 0) > Date.now()) return true;
    const found = (await this.get(key)) !== undefined;
    if (found) this.onboardedUntil.set(key, Date.now() + ONBOARDED_CACHE_MS);
    return found;
  }

  /**
   * Creates the tenant's entry, or updates its display name when it exists; with If-Match (optional
   * here), only the version the caller read is updated (412 otherwise).
   */
  async onboard(tenantId: string, body: OnboardTenantBody, by: Principal, ifMatch?: string): Promise<{ tenant: Tenant; created: boolean; etag: string }> {
    const id = tenantId.toLowerCase();
    const at = this.now().toISOString();
    // Without If-Match the last writer wins: each lost race is read again and written on top (one
    // writer wins every round, so a burst settles); a round's retry waits a few random milliseconds.
    for (let attempt = 0; attempt < ONBOARD_ATTEMPTS; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
      const existing = await readItem<TenantDocument>(this.container, id, id);
      if (ifMatch !== undefined && !ifMatchAccepts(ifMatch, existing?._etag)) {
        throw new AppError("preconditionFailed", "The tenant changed since you read it (or is not onboarded); read it again and retry with the new ETag.");
      }
      try {
        if (!existing) {
          const doc: TenantDocument = {
            id, tenantId: id, displayName: body.displayName, status: "active", onboardedAt: at, onboardedBy: by.objectId, updatedAt: at,
          };
          const stored = await createItem(this.container, doc);
          await this.record(id, by, "tenant.onboard", undefined, toTenant(stored));
          return { tenant: toTenant(stored), created: true, etag: stored._etag };
        }
        const stored = await replaceIfMatch(this.container, { ...toTenant(existing), id, displayName: body.displayName, updatedAt: at }, existing._etag);
        await this.record(id, by, "tenant.update", toTenant(existing), toTenant(stored));
        return { tenant: toTenant(stored), created: false, etag: stored._etag };
      } catch (err) {
        // Another writer got there first: read again and apply on top (or answer 412 to a caller who sent If-Match).
        if (err instanceof AppError && (err.kind === "conflict" || err.kind === "preconditionFailed")) continue;
        throw err;
      }
    }
    throw new AppError("unavailable", "The tenant is being changed by many requests at once; try again.", { retryAfterSeconds: 1 });
  }

  /** Admin writes are audited (P9); a failed audit write fails the request, which is safe to repeat. */
  private async record(tenantId: string, by: Principal, action: string, before: Tenant | undefined, after: Tenant): Promise<void> {
    await this.audit.append(tenantId, {
      actor: { type: by.isApplication ? "application" : "user", id: by.objectId, ...(by.name ? { name: by.name } : {}) },
      action,
      target: { type: "tenant", id: tenantId },
      phase: "record",
      before,
      after,
      outcome: "succeeded",
    });
  }
}

function toTenant(doc: TenantDocument): Tenant {
  return {
    tenantId: doc.tenantId,
    displayName: doc.displayName,
    status: doc.status,
    onboardedAt: doc.onboardedAt,
    onboardedBy: doc.onboardedBy,
    updatedAt: doc.updatedAt,
  };
}

/** The onboarded (active) tenants' ids, for the timers that visit every tenant. */
export async function activeTenantIds(tenants: Container): Promise<string[]> {
  return queryAll<string>(tenants, { query: "SELECT VALUE c.id FROM c WHERE c.status = 'active'" }, { maxItems: 100_000 });
}
