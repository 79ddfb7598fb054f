import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Container, OperationInput, OperationResponse, PatchOperation } from "@azure/cosmos";
import { AppError } from "../errors/app-error.js";
import { createItem, deleteItem, patchIf, readItem, replaceIfMatch, wholeRequestFailure, type Stored } from "../storage/repository.js";
import { isRecent, READ_LAG_MS, type RecentWrite } from "./recent-writes.js";

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
 * - Given back after a change Graph confirmed (or did not answer for sure), a lock item stays (its time passed at once) with what
 *   the change wrote (recent-writes.ts), for the next change of the user - on whichever instance -
 *   to plan on despite Graph's read lag; Cosmos removes it after READ_LAG_MS (item TTL). Otherwise
 *   it is deleted.
 */
export const LEASE_MS = 60_000;
const FIRST_PAUSE_MS = 25;
const MAX_PAUSE_MS = 500;
const MAX_BULK_OPERATIONS = 100;

type LockItem = {
  id: string;
  type: "license-change-lock";
  until: string;
  /** The instance holding it (for whoever reads the container). */
  holder: string;
  /** What the last change of the user wrote (kept READ_LAG_MS). */
  written?: RecentWrite;
  /** Seconds until Cosmos removes the item (the container's default TTL is -1: none): held, the lease and the read lag; given back with a write, the read lag. */
  ttl?: number;
};

/** Locks held by a change: what earlier changes of its users wrote lately (by user id), and the release. */
export interface HeldLocks {
  recent: ReadonlyMap<string, RecentWrite>;
  /** Gives the locks back, keeping what this change wrote (or may have) for each user (by user id). Never throws: an unreleased lock expires. */
  release(written?: ReadonlyMap<string, RecentWrite>): Promise<void>;
}

interface Taken {
  /** Lock id -> ETag. */
  held: Map<string, string>;
  /** Lock id -> a recent write found on a given-back item. */
  carried: Map<string, RecentWrite>;
}

export class UserChangeLocks {
  private readonly holder = randomUUID();

  constructor(private readonly container: Container, private readonly options: { leaseMs?: number } = {}) {}

  /**
   * Takes the locks of these users of a tenant, waiting for other holders until `deadline` (epoch
   * ms); then 503.
   */
  async acquire(tenantId: string, userIds: readonly string[], deadline: number): Promise<HeldLocks> {
    const users = new Map(userIds.map((u) => [lockId(tenantId, u), u.toLowerCase()]));
    const ids = [...users.keys()].sort();
    if (ids.length === 0) return { recent: new Map(), release: () => Promise.resolve() };
    let pause = FIRST_PAUSE_MS;
    for (;;) {
      const taken = await this.tryTakeAll(ids);
      if (taken) return this.holding(taken, users);
      if (Date.now() + pause > deadline) {
        throw new AppError("unavailable", "Another license change of this user is under way on another instance; nothing was changed. Try again shortly.", { retryAfterSeconds: 5 });
      }
      await sleep(pause * (0.5 + Math.random()));
      pause = Math.min(pause * 2, MAX_PAUSE_MS);
    }
  }

  /**
   * What recent changes of these users wrote (by user id), read without taking their locks: a dry
   * run plans as the real run would (L17), waiting for nobody.
   */
  async recentWrites(tenantId: string, userIds: readonly string[]): Promise<Map<string, RecentWrite>> {
    const users = new Map(userIds.map((u) => [lockId(tenantId, u), u.toLowerCase()]));
    const ids = [...users.keys()];
    const items: (LockItem | undefined)[] = ids.length === 1
      ? [await readItem<LockItem>(this.container, ids[0] as string, ids[0] as string)]
      : (await this.bulk(ids.map((id) => ({ operationType: "Read", id, partitionKey: id })))).answers.map((a) => (a?.statusCode === 200 ? (a.resourceBody as LockItem | undefined) : undefined));
    const out = new Map<string, RecentWrite>();
    items.forEach((item, i) => {
      const user = users.get(ids[i] as string);
      if (user && isRecent(item?.written)) out.set(user, item.written);
    });
    return out;
  }

  private lockItem(id: string, written?: RecentWrite): LockItem {
    return {
      id, type: "license-change-lock", until: new Date(Date.now() + this.leaseMs()).toISOString(), holder: this.holder, ttl: this.heldTtl(),
      ...(isRecent(written) ? { written } : {}),
    };
  }

  private leaseMs(): number {
    return this.options.leaseMs ?? LEASE_MS;
  }

  /** A held lock's item TTL (each renewal starts it again): an item its dead holder left behind goes away once no change can need it. */
  private heldTtl(): number {
    return Math.ceil((this.leaseMs() + READ_LAG_MS) / 1000);
  }

  /** Taking over a lock whose time has passed: a new `until` and holder (its write, if any, stays). */
  private takeOverOperations(): PatchOperation[] {
    const { until, holder, ttl } = this.lockItem("");
    return [{ op: "set", path: "/until", value: until }, { op: "set", path: "/holder", value: holder }, { op: "set", path: "/ttl", value: ttl }];
  }

  /** A given-back lock that keeps a write for the next change of its user. */
  private givenBack(id: string, written: RecentWrite): LockItem {
    return { id, type: "license-change-lock", until: new Date(0).toISOString(), holder: this.holder, written, ttl: Math.ceil(READ_LAG_MS / 1000) };
  }

  /** Every lock, or null with none kept. */
  private async tryTakeAll(ids: readonly string[]): Promise<Taken | null> {
    const held = new Map<string, string>();
    const carried = new Map<string, RecentWrite>();
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
        await this.release({ held, carried });
        throw error;
      }
    }
    // A lock whose time has passed - given back keeping a write, or its holder died - is taken over
    // with one conditional patch (it applies only while `until` has passed; the item, with its
    // write, comes back), unless another instance was quicker. One bulk request for several.
    if (busy.length > 0) {
      const taken = (id: string, item: Stored<LockItem> | undefined, etag = item?._etag) => {
        if (!item || !etag) return;
        held.set(id, etag);
        if (isRecent(item.written)) carried.set(id, item.written);
      };
      try {
        if (busy.length === 1) {
          const id = busy[0] as string;
          taken(id, await patchIf<LockItem>(this.container, id, id, this.takeOverOperations(), { condition: takeOverCondition() }).catch((err: unknown) => {
            if (err instanceof AppError && (err.kind === "preconditionFailed" || err.kind === "notFound")) return undefined; // held, or given back meanwhile: next round
            throw err;
          }));
        } else {
          const condition = takeOverCondition();
          const { answers, error } = await this.bulk(busy.map((id) => ({ operationType: "Patch", id, partitionKey: id, resourceBody: { operations: this.takeOverOperations(), condition } })));
          busy.forEach((id, i) => {
            const answer = answers[i];
            if (answer?.statusCode === 200) taken(id, answer.resourceBody as Stored<LockItem> | undefined, answer.eTag ?? (answer.resourceBody as { _etag?: string } | undefined)?._etag);
          });
          if (error) throw error;
        }
      } catch (err) {
        await this.release({ held, carried });
        throw err;
      }
    }
    if (held.size === ids.length) return { held, carried };
    await this.release({ held, carried });
    return null;
  }

  /** Renews the locks while the change runs; the release stops that and gives them back. */
  private holding(taken: Taken, users: ReadonlyMap<string, string>): HeldLocks {
    const { held, carried } = taken;
    let released = false;
    let renewing: Promise<unknown> = Promise.resolve();
    let inFlight = false;
    const renew = setInterval(() => {
      if (inFlight) return; // one round at a time: a slow round's ETags are the ones the next round and the release need
      inFlight = true;
      renewing = Promise.all(
        [...held].map(async ([id, etag]) => {
          try {
            held.set(id, (await replaceIfMatch(this.container, this.lockItem(id, carried.get(id)), etag))._etag);
          } catch {
            // Lost (taken over after this process stalled past the lease) or Cosmos unreachable: the next round tries again with what it has.
          }
        }),
      ).finally(() => {
        inFlight = false;
      });
    }, this.leaseMs() / 3);
    renew.unref();
    const recent = new Map<string, RecentWrite>();
    for (const [id, write] of carried) recent.set(users.get(id) ?? id, write);
    return {
      recent,
      release: async (written) => {
        if (released) return;
        released = true;
        clearInterval(renew);
        await renewing; // a renewal in flight changes the ETags the release needs
        const keep = new Map(carried);
        for (const [id, user] of users) {
          const write = written?.get(user);
          if (write) keep.set(id, write);
        }
        await this.release({ held, carried: keep });
      },
    };
  }

  /** Deletes the locks, or gives back those keeping a recent write (see the class comment). */
  private async release({ held, carried }: Taken): Promise<void> {
    if (held.size === 0) return;
    const keptWrite = (id: string) => {
      const write = carried.get(id);
      return isRecent(write) ? write : undefined;
    };
    const giveBackOne = (id: string, etag: string) => {
      const write = keptWrite(id);
      return (write ? replaceIfMatch(this.container, this.givenBack(id, write), etag) : deleteItem(this.container, id, id, { ifMatch: etag })).catch(() => false);
    };
    if (held.size === 1) {
      const [[id, etag]] = [...held] as [[string, string]];
      await giveBackOne(id, etag);
      return;
    }
    const locks = [...held];
    const { answers } = await this.bulk(locks.map(([id, etag]): OperationInput => {
      const write = keptWrite(id);
      return write
        ? { operationType: "Replace", id, partitionKey: id, ifMatch: etag, resourceBody: { ...this.givenBack(id, write) } }
        : ({ operationType: "Delete", id, partitionKey: id, ifMatch: etag } as OperationInput);
    }));
    // Throttled inside the bulk request, or in a chunk whose request failed: one by one (with the SDK's retries).
    // Whatever still fails is left to expire (LEASE_MS): a change of these users waits for it at most that long.
    await Promise.all(locks.filter((_, i) => answers[i] === undefined || answers[i]?.statusCode === 429).map(([id, etag]) => giveBackOne(id, etag)));
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

/** A patch's condition: the lock's time has passed (ISO times compare as strings). */
function takeOverCondition(): string {
  return `from c where c.until < '${new Date().toISOString()}'`;
}

export function lockId(tenantId: string, userId: string): string {
  return `license-change|${tenantId.toLowerCase()}|${userId.toLowerCase()}`;
}
