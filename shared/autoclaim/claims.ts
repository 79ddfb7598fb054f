import type { Container } from "@azure/cosmos";
import { AppError } from "../errors/app-error.js";
import type { Caller, EventSource } from "../events/sign-in-event.js";
import { createItem, deleteItem, patchIf, queryAll, readItem, replaceIfMatch, type Stored } from "../storage/repository.js";
import type { Trigger } from "./triggers.js";

/**
 * A10: one claim per user and app (container `autoclaim`, id `claim:<appId>:<userId>`). Created
 * as `pending` - holding its reservation - before Graph is called; a second event for the same
 * user and app meets the existing document (409) and never assigns again. `claimed` after Graph
 * confirmed; `reclaimed` when A13 returned the license. A pending claim older than its expiry is
 * abandoned (its worker died): it can be taken over, and the maintenance timer settles it.
 */
export const claimStatusSchemaValues = ["pending", "claimed", "reclaimed"] as const;
export type ClaimStatus = (typeof claimStatusSchemaValues)[number];

export interface ClaimDocument {
  id: string;
  type: "claim";
  tenantId: string;
  appId: string;
  userId: string;
  status: ClaimStatus;
  eventId: string;
  trigger: Trigger;
  source: EventSource;
  caller: Caller;
  policyId: string;
  policyName: string;
  skuId: string;
  shard: number;
  createdAt: string;
  expiresAt: string;
  claimedAt?: string;
  reclaimedAt?: string;
  reclaimReason?: string;
}

export const claimId = (appId: string, userId: string) => `claim:${appId.toLowerCase()}:${userId.toLowerCase()}`;

export type LockResult = { taken: true; claim: Stored<ClaimDocument> } | { taken: false; existing: Stored<ClaimDocument> };

export class ClaimStore {
  constructor(private readonly container: Container) {}

  /** Creates the pending claim, or returns the claim that already exists for the user and app. */
  async lock(doc: ClaimDocument): Promise<LockResult> {
    try {
      return { taken: true, claim: await createItem(this.container, doc) };
    } catch (err) {
      if (!(err instanceof AppError && err.kind === "conflict")) throw err;
    }
    const existing = await this.get(doc.tenantId, doc.appId, doc.userId);
    if (!existing) return this.lock(doc); // removed in between: try again
    return { taken: false, existing };
  }

  /** Replaces an existing claim (expired pending, or a claim whose license is gone) if unchanged; undefined when someone else did. */
  async takeOver(doc: ClaimDocument, etag: string): Promise<Stored<ClaimDocument> | undefined> {
    try {
      return await replaceIfMatch(this.container, doc, etag);
    } catch (err) {
      if (err instanceof AppError && (err.kind === "preconditionFailed" || err.kind === "notFound")) return undefined;
      throw err;
    }
  }

  get(tenantId: string, appId: string, userId: string): Promise<Stored<ClaimDocument> | undefined> {
    return readItem<ClaimDocument>(this.container, claimId(appId, userId), tenantId);
  }

  async markClaimed(claim: ClaimDocument, at: Date): Promise<void> {
    await patchIf(this.container, claim.id, claim.tenantId, [
      { op: "set", path: "/status", value: "claimed" },
      { op: "set", path: "/claimedAt", value: at.toISOString() },
    ]);
  }

  async markReclaimed(claim: ClaimDocument, at: Date, reason: string): Promise<void> {
    await patchIf(
      this.container,
      claim.id,
      claim.tenantId,
      [
        { op: "set", path: "/status", value: "reclaimed" },
        { op: "set", path: "/reclaimedAt", value: at.toISOString() },
        { op: "set", path: "/reclaimReason", value: reason },
      ],
      { condition: "from c where c.status = 'claimed'" },
    );
  }

  /** Removes a pending claim that did not happen, if it is still the version this worker wrote. */
  async remove(claim: Stored<ClaimDocument>): Promise<void> {
    try {
      await deleteItem(this.container, claim.id, claim.tenantId, { ifMatch: claim._etag });
    } catch (err) {
      if (err instanceof AppError && err.kind === "preconditionFailed") return;
      throw err;
    }
  }

  /** Claims (claimed or reclaimed) made since `from`, for the report. */
  claimedSince(tenantId: string, from: Date, maxItems = 100_000): Promise<ClaimDocument[]> {
    return queryAll<ClaimDocument>(
      this.container,
      {
        query: "SELECT * FROM c WHERE c.tenantId = @t AND c.type = 'claim' AND c.status != 'pending' AND c.claimedAt >= @from",
        parameters: [{ name: "@t", value: tenantId }, { name: "@from", value: from.toISOString() }],
      },
      { partitionKey: tenantId, maxItems },
    );
  }

  /** Pending claims created before `before` (abandoned), for the maintenance timer. */
  expiredPending(tenantId: string, before: Date): Promise<Stored<ClaimDocument>[]> {
    return queryAll<Stored<ClaimDocument>>(
      this.container,
      {
        query: "SELECT * FROM c WHERE c.tenantId = @t AND c.type = 'claim' AND c.status = 'pending' AND c.expiresAt < @before",
        parameters: [{ name: "@t", value: tenantId }, { name: "@before", value: before.toISOString() }],
      },
      { partitionKey: tenantId, maxItems: 10_000 },
    );
  }

  async pendingCount(tenantId: string, skuId: string): Promise<number> {
    const [n] = await queryAll<number>(
      this.container,
      {
        query: "SELECT VALUE COUNT(1) FROM c WHERE c.tenantId = @t AND c.type = 'claim' AND c.status = 'pending' AND c.skuId = @s",
        parameters: [{ name: "@t", value: tenantId }, { name: "@s", value: skuId }],
      },
      { partitionKey: tenantId },
    );
    return n ?? 0;
  }

  /** Claimed licenses, for A13 (a page at a time would be better for very large tenants). */
  claimed(tenantId: string, maxItems = 100_000): Promise<Stored<ClaimDocument>[]> {
    return queryAll<Stored<ClaimDocument>>(
      this.container,
      { query: "SELECT * FROM c WHERE c.tenantId = @t AND c.type = 'claim' AND c.status = 'claimed'", parameters: [{ name: "@t", value: tenantId }] },
      { partitionKey: tenantId, maxItems },
    );
  }
}
