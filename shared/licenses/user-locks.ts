import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Container, OperationInput, OperationResponse } from "@azure/cosmos";
import { AppError } from "../errors/app-error.js";
import { createItem, deleteItem, readItem, replaceIfMatch, wholeRequestFailure } from "../storage/repository.js";

/**
 * L3 across instances: a user's license changes made by different instances of the app (Azure
 * scales a Functions app out) wait for each other as they do within one process (KeyedQueue in
 * assign.ts). A change holds a lock item per user in the `leases` container (partitioned by id)
 * from before it reads the users until it is answered.
 *
 * - All of a change's users or none: a change holding some users while waiting for the others
 *   could deadlock with another instance's change of the same users. It lets go of what it took
 *   and tries again after a jittered pause, until its deadline.
 * - The locks of several users are created and deleted in bulk requests (100 operations each at
 *   most); one user's with a point write (which gets the SDK's throttling retries).
 * - A lock lasts LEASE_MS and is renewed (every third of that) while the change runs (a background change may wait on
 *   Graph for minutes); a lock whose time has passed belongs to an instance that died and is taken
 *   over.
 */
export const LEASE_MS = 60_000;
const FIRST_PAUSE_MS = 25;
const MAX_PAUSE_MS = 500;
const MAX_BULK_OPERATIONS = 100;

interface LockItem {
  id: string;
  type: "license-change-lock";
  until: string;
  /** The instance holding it (for whoever reads the container). */
  holder: string;
}

export class UserChangeLocks {
  private readonly holder = randomUUID();

  constructor(private readonly container: Container, private readonly options: { leaseMs?: number } = {}) {}

  /**
   * Takes the locks of these users of a tenant, waiting for other holders until `deadline` (epoch
   * ms); then 503. Returns the release (never throws: an unreleased lock expires).
   */
  async acquire(tenantId: string, userIds: readonly string[], deadline: number): Promise<() => Promise<void>> {
    const ids = [...new Set(userIds.map((u) => lockId(tenantId, u)))].sort();
    if (ids.length === 0) return () => Promise.resolve();
    let pause = FIRST_PAUSE_MS;
    for (;;) {
      const held = await this.tryTakeAll(ids);
      if (held) return this.holding(held);
      if (Date.now() + pause > deadline) {
        throw new AppError("unavailable", "Another license change of this user is under way on another instance; nothing was changed. Try again shortly.", { retryAfterSeconds: 5 });
      }
      await sleep(pause * (0.5 + Math.random()));
      pause = Math.min(pause * 2, MAX_PAUSE_MS);
    }
  }

  private lockItem(id: string): LockItem {
    return { id, type: "license-change-lock", until: new Date(Date.now() + (this.options.leaseMs ?? LEASE_MS)).toISOString(), holder: this.holder };
  }

  /** Every lock (id -> etag), or null with none kept. */
  private async tryTakeAll(ids: readonly string[]): Promise<Map<string, string> | null> {
    const held = new Map<string, string>();
    const busy: string[] = [];
    if (ids.length === 1) {
      const id = ids[0] as string;
      try {
        held.set(id, (await createItem(this.container, this.lockItem(id)))._etag);
      } catch (err) {
        if (!(err instanceof AppError && err.kind === "conflict")) throw err;
        busy.push(id);
      }
    } else {
      // Chunk by chunk: the locks a chunk took are kept (and given back below) even when another chunk's request failed.
      const { answers, error } = await this.bulk(ids.map((id) => ({ operationType: "Create", partitionKey: id, resourceBody: { ...this.lockItem(id) } })));
      ids.forEach((id, i) => {
        const answer = answers[i];
        const etag = answer?.eTag ?? (answer?.resourceBody as { _etag?: string } | undefined)?._etag;
        if (answer?.statusCode === 201 && etag) held.set(id, etag);
        else if (answer) busy.push(id); // another holder (409), or throttled inside the bulk request: tried again after the pause
      });
      if (error) {
        await this.release(held);
        throw error;
      }
    }
    // A lock whose time has passed: its holder died. Taken over, unless another instance was quicker.
    // Every look ends before anything is given back (a take-over still in flight would be kept).
    const looked = await Promise.allSettled(busy.map(async (id) => {
      const current = await readItem<LockItem>(this.container, id, id);
      if (!current || Date.parse(current.until) > Date.now()) return;
      try {
        held.set(id, (await replaceIfMatch(this.container, this.lockItem(id), current._etag))._etag);
      } catch (err) {
        if (!(err instanceof AppError && (err.kind === "preconditionFailed" || err.kind === "notFound"))) throw err;
      }
    }));
    const failed = looked.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      await this.release(held);
      throw failed.reason;
    }
    if (held.size === ids.length) return held;
    await this.release(held);
    return null;
  }

  /** Renews the locks while the change runs; the release stops that and deletes them. */
  private holding(held: Map<string, string>): () => Promise<void> {
    let released = false;
    let renewing: Promise<unknown> = Promise.resolve();
    let inFlight = false;
    const renew = setInterval(() => {
      if (inFlight) return; // one round at a time: a slow round's ETags are the ones the next round and the release need
      inFlight = true;
      renewing = Promise.all(
        [...held].map(async ([id, etag]) => {
          try {
            held.set(id, (await replaceIfMatch(this.container, this.lockItem(id), etag))._etag);
          } catch {
            // Lost (taken over after this process stalled past the lease) or Cosmos unreachable: the next round tries again with what it has.
          }
        }),
      ).finally(() => {
        inFlight = false;
      });
    }, (this.options.leaseMs ?? LEASE_MS) / 3);
    renew.unref();
    return async () => {
      if (released) return;
      released = true;
      clearInterval(renew);
      await renewing; // a renewal in flight changes the ETags the deletes need
      await this.release(held);
    };
  }

  private async release(held: ReadonlyMap<string, string>): Promise<void> {
    if (held.size === 0) return;
    const deleteOne = (id: string, etag: string) => deleteItem(this.container, id, id, { ifMatch: etag }).catch(() => false);
    if (held.size === 1) {
      const [[id, etag]] = [...held] as [[string, string]];
      await deleteOne(id, etag);
      return;
    }
    const locks = [...held];
    const { answers } = await this.bulk(locks.map(([id, etag]) => ({ operationType: "Delete", id, partitionKey: id, ifMatch: etag })));
    // Throttled inside the bulk request, or in a chunk whose request failed: one by one (with the SDK's retries).
    // Whatever still fails is left to expire (LEASE_MS): a change of these users waits for it at most that long.
    await Promise.all(locks.filter((_, i) => answers[i] === undefined || answers[i]?.statusCode === 429).map(([id, etag]) => deleteOne(id, etag)));
  }

  /**
   * In bulk requests of at most 100 operations (Cosmos's limit per request; a bulk change names up
   * to 500 users). An answer per operation, undefined for those of a request that failed as a whole
   * (its error returned, the others' answers kept).
   */
  private async bulk(operations: OperationInput[]): Promise<{ answers: (OperationResponse | undefined)[]; error?: AppError }> {
    const chunks: OperationInput[][] = [];
    for (let i = 0; i < operations.length; i += MAX_BULK_OPERATIONS) chunks.push(operations.slice(i, i + MAX_BULK_OPERATIONS));
    const settled = await Promise.allSettled(chunks.map((chunk) => this.container.items.bulk(chunk, { continueOnError: true })));
    const answers = settled.flatMap((r, i): (OperationResponse | undefined)[] => (r.status === "fulfilled" ? r.value : new Array<undefined>(chunks[i]?.length ?? 0).fill(undefined)));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
    return failed ? { answers, error: wholeRequestFailure(failed.reason, "bulk request") } : { answers };
  }
}

export function lockId(tenantId: string, userId: string): string {
  return `license-change|${tenantId.toLowerCase()}|${userId.toLowerCase()}`;
}
