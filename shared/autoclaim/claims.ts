import type { Container, JSONObject, OperationInput, PatchOperation } from "@azure/cosmos";
import { AppError } from "../errors/app-error.js";
import type { Caller, EventSource } from "../events/sign-in-event.js";
import { GroupedWrites } from "../storage/grouped-writes.js";
import { createItem, deleteItem, patchIf, queryAll, readItem, type Stored } from "../storage/repository.js";
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
  /**
   * When an assignLicense of this claim got no answer (a timeout, a 5xx, a lost connection): Graph
   * may have assigned, and its reads lag its writes - whether it happened is read only
   * SETTLE_AFTER_MS later (processor.ts).
   */
  answerLostAt?: string;
}

export const claimId = (appId: string, userId: string) => `claim:${appId.toLowerCase()}:${userId.toLowerCase()}`;

export class ClaimStore {
  /** The claims of one Graph `$batch` are marked claimed together: one request for the group. */
  private readonly marks: GroupedWrites;

  constructor(private readonly container: Container) {
    this.marks = new GroupedWrites(container);
  }

  /**
   * The write that creates a pending claim, for the transactional batch that also takes its unit
   * (Reservations.reserveWith): an existing claim for the user and app refuses it with 409.
   */
  createOperation(doc: ClaimDocument): OperationInput {
    return { operationType: "Create", resourceBody: doc as unknown as JSONObject };
  }

  /** The write that takes an existing claim over (expired pending, or its license gone) if unchanged since `etag`. */
  replaceOperation(doc: ClaimDocument, etag: string): OperationInput {
    return { operationType: "Replace", id: doc.id, ifMatch: etag, resourceBody: doc as unknown as JSONObject };
  }

  /** The claim a batch wrote: the stored item it answered, or the document with its new ETag. */
  written(doc: ClaimDocument, result: { resource: unknown; etag: string | undefined }): Stored<ClaimDocument> {
    if (result.resource) return result.resource as Stored<ClaimDocument>;
    if (!result.etag) throw new Error(`Cosmos answered no ETag for the claim ${doc.id}.`);
    return { ...doc, _etag: result.etag, _ts: Math.floor(Date.now() / 1000) };
  }

  get(tenantId: string, appId: string, userId: string): Promise<Stored<ClaimDocument> | undefined> {
    return readItem<ClaimDocument>(this.container, claimId(appId, userId), tenantId);
  }

  async markClaimed(claim: ClaimDocument, at: Date): Promise<void> {
    await this.marks.patch({
      id: claim.id,
      partitionKey: claim.tenantId,
      operations: [
        { op: "set", path: "/status", value: "claimed" },
        { op: "set", path: "/claimedAt", value: at.toISOString() },
      ],
    });
  }

  /** Notes that an assignLicense of this pending claim got no answer (see `answerLostAt`). */
  async noteAnswerLost(claim: ClaimDocument, at: Date): Promise<void> {
    await patchIf(this.container, claim.id, claim.tenantId, [{ op: "set", path: "/answerLostAt", value: at.toISOString() }], {
      condition: "from c where c.status = 'pending'",
    });
  }

  /**
   * Maintenance: a pending claim Graph shows assigned is marked claimed, if it is still the version
   * read (a new event may have taken the expired claim over meanwhile). True when this call marked it.
   */
  markClaimedIf(claim: Stored<ClaimDocument>, at: Date): Promise<boolean> {
    return this.patchPendingAsRead(claim, [
      { op: "set", path: "/status", value: "claimed" },
      { op: "set", path: "/claimedAt", value: at.toISOString() },
    ]);
  }

  /** A13: the claim is over. False when another run marked it first (no longer `claimed`): it stays as it is. */
  async markReclaimed(claim: ClaimDocument, at: Date, reason: string): Promise<boolean> {
    return patchIf(
      this.container,
      claim.id,
      claim.tenantId,
      [
        { op: "set", path: "/status", value: "reclaimed" },
        { op: "set", path: "/reclaimedAt", value: at.toISOString() },
        { op: "set", path: "/reclaimReason", value: reason },
      ],
      { condition: "from c where c.status = 'claimed'" },
    ).then(
      () => true,
      (err: unknown) => {
        if (err instanceof AppError && err.kind === "preconditionFailed") return false;
        throw err;
      },
    );
  }

  /**
   * Brings a pending claim's expiry forward to `at` (maintenance settles it then), if it is still
   * pending and the version read; a later expiry is never set. True when this call changed it.
   */
  async expireBy(claim: Stored<ClaimDocument>, at: Date): Promise<boolean> {
    if (Date.parse(claim.expiresAt) <= at.getTime()) return false;
    return this.patchPendingAsRead(claim, [{ op: "set", path: "/expiresAt", value: at.toISOString() }]);
  }

  /** Patches a claim still pending and as read (its ETag); false when it changed or went meanwhile. */
  private async patchPendingAsRead(claim: Stored<ClaimDocument>, operations: PatchOperation[]): Promise<boolean> {
    try {
      await patchIf(this.container, claim.id, claim.tenantId, operations, { condition: "from c where c.status = 'pending'", ifMatch: claim._etag });
      return true;
    } catch (err) {
      if (err instanceof AppError && (err.kind === "preconditionFailed" || err.kind === "notFound")) return false;
      throw err;
    }
  }

  /**
   * Removes a pending claim that did not happen, if it is still the version this worker wrote.
   * True when this call removed it (false: changed or gone meanwhile - someone else settled it).
   */
  async remove(claim: Stored<ClaimDocument>): Promise<boolean> {
    try {
      return await deleteItem(this.container, claim.id, claim.tenantId, { ifMatch: claim._etag });
    } catch (err) {
      if (err instanceof AppError && err.kind === "preconditionFailed") return false;
      throw err;
    }
  }

  /**
   * Keeps a completed claim (claimed, or reclaimed) that a new event is about to take over: the
   * user and app have one live claim document, and the report (A7) still lists the earlier claim.
   * Idempotent (one copy per claim event); a copy whose takeover then fails duplicates the live
   * claim, which the report sees once (`claimedSince` keeps one per event).
   */
  async archive(claim: ClaimDocument): Promise<void> {
    if (claim.status === "pending") return;
    const { id, tenantId, appId, userId, status, eventId, trigger, source, caller, policyId, policyName, skuId, shard, createdAt, expiresAt, claimedAt, reclaimedAt, reclaimReason } = claim;
    const copy = {
      id: `claim-history:${appId.toLowerCase()}:${userId.toLowerCase()}:${eventId}`, type: "claim-history", claimId: id, tenantId, appId, userId, status, eventId, trigger, source,
      caller, policyId, policyName, skuId, shard, createdAt, expiresAt, claimedAt, reclaimedAt, reclaimReason,
    };
    try {
      await createItem(this.container, copy);
    } catch (err) {
      if (!(err instanceof AppError && err.kind === "conflict")) throw err;
    }
  }

  /** Claims (claimed or reclaimed) made since `from`, with the earlier claims that were taken over, for the report. */
  claimedSince(tenantId: string, from: Date, maxItems = 100_000): Promise<ClaimDocument[]> {
    return this.withHistory(tenantId, "c.status != 'pending' AND c.claimedAt >= @from", from, maxItems);
  }

  /** Claims reclaimed since `from` (A13), whenever they were made, for the report. */
  reclaimedSince(tenantId: string, from: Date, maxItems = 100_000): Promise<ClaimDocument[]> {
    return this.withHistory(tenantId, "c.status = 'reclaimed' AND c.reclaimedAt >= @from", from, maxItems);
  }

  /** Live claims and claim history matching `condition`, one per claim event (the live claim wins over its copy). */
  private async withHistory(tenantId: string, condition: string, from: Date, maxItems: number): Promise<ClaimDocument[]> {
    const rows = await queryAll<ClaimDocument & { type: "claim" | "claim-history" }>(
      this.container,
      {
        query: `SELECT * FROM c WHERE c.tenantId = @t AND (c.type = 'claim' OR c.type = 'claim-history') AND ${condition}`,
        parameters: [{ name: "@t", value: tenantId }, { name: "@from", value: from.toISOString() }],
      },
      { partitionKey: tenantId, maxItems },
    );
    const byEvent = new Map<string, ClaimDocument & { type: string }>();
    for (const row of rows) {
      const key = `${row.appId}|${row.userId}|${row.eventId}`;
      const known = byEvent.get(key);
      if (!known || (known.type !== "claim" && row.type === "claim")) byEvent.set(key, row);
    }
    return [...byEvent.values()];
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
