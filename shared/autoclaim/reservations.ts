import { createHash } from "node:crypto";
import type { Container, OperationInput } from "@azure/cosmos";
import { AppError } from "../errors/app-error.js";
import { Batcher, ItemFailure } from "../concurrency/batcher.js";
import { takeLease } from "../storage/lease.js";
import { createItem, patchIf, queryAll, transact } from "../storage/repository.js";

/**
 * A10: license reservations. Before Graph is called a claim takes one unit from a counter of the
 * product in Cosmos (a conditional patch `available - 1 where available > 0`), so concurrent claims
 * never take more units than the product has. The unit is taken in one transactional batch with the
 * write that records who holds it (the pending claim, in the same tenant partition): both happen or
 * neither, in one round trip. One counter item would serialise every claim of a product (about 100
 * conditional patches per second on one item locally), so each product's count is split over
 * `shards` items; a claim starts at the shard its user hashes to and moves on when
 * that one is empty. A product is exhausted only when every shard is, so the total is exact.
 *
 * Counters start from Graph (`subscribedSkus`: enabled + warning - consumed) and are reconciled
 * with it (`reconcile`): admins assign outside this product, and a reservation whose claim never
 * completed is given back then. Graph stays the last word: if it says a product has no license
 * left, the claim moves to the next backup and the product is treated as exhausted for a while.
 *
 * Reservations of one product asked for together (the claims of one Graph read `$batch` reach this
 * step in the same turn of the event loop) share one transactional batch: k units from one shard
 * (`available - k where available >= k`) and the k claims' writes, instead of k batches. When the
 * shard has fewer than k units, or the counters do not exist yet, they go one at a time as above;
 * when one claim's write is refused (its claim exists), that one is refused and the others go again.
 */
interface CounterDocument {
  id: string;
  type: "sku-counter";
  tenantId: string;
  skuId: string;
  shard: number;
  available: number;
  updatedAt: string;
}

export interface Reservation {
  skuId: string;
  shard: number;
}

/** What `reserveWith` did. */
export type ReservedWith =
  /** A unit is taken and the companion write done; `result` is the companion's stored item. */
  | { kind: "reserved"; reservation: Reservation; result: { resource: unknown; etag: string | undefined } }
  /** The product has no unit left (or Graph said so recently): nothing written. */
  | { kind: "none" }
  /** The companion write failed (409 exists, 412 changed, 404 gone): nothing written, no unit taken. */
  | { kind: "refused"; statusCode: number };

export interface ReservationDeps {
  container: Container;
  shards: number;
  /** How long a shard or product found empty is skipped without asking Cosmos again (default 2 s). */
  exhaustedMemoMs?: number;
  /**
   * How often, at most, the counters of a product found empty are brought in line with Graph on a
   * claim's way (`refreshEmpty`): licenses bought or freed since the last
   * reconciliation serve the next claim, and a product that is really exhausted costs one Graph
   * read per interval, not one per claim (default 10 s).
   */
  emptyRefreshMs?: number;
  /** Licenses available in Graph now (fresh subscribedSkus); undefined when the tenant lacks the product. */
  availableInGraph(tenantId: string, skuId: string): Promise<number | undefined>;
  /** Reservations taken and not completed yet (pending claims) for the product. */
  pendingClaims(tenantId: string, skuId: string): Promise<number>;
  now?: () => Date;
}

const DEFAULT_EXHAUSTED_MEMO_MS = 2000;
const DEFAULT_EMPTY_REFRESH_MS = 10_000;
/** How long a reconciliation lease stays valid if its holder never gives it back (it crashed). */
const RECONCILE_LEASE_MS = 30_000;

const counterId = (skuId: string, shard: number) => `sku:${skuId}:${shard}`;

/** Takes `units` from a shard's counter if it has that many. */
const takeUnits = (skuId: string, shard: number, units: number): OperationInput => ({
  operationType: "Patch",
  id: counterId(skuId, shard),
  resourceBody: { operations: [{ op: "incr", path: "/available", value: -units }], condition: `from c where c.available >= ${units}` },
});

interface Asked {
  tenantId: string;
  skuId: string;
  hint: string;
  companion: (shard: number) => OperationInput;
}

/** A transactional batch holds at most 100 operations: 99 claims and their counter. */
const MAX_GROUP = 99;

export class Reservations {
  private readonly emptyUntil = new Map<string, number>();
  private readonly graphExhaustedUntil = new Map<string, number>();
  private readonly initializing = new Map<string, Promise<void>>();
  private readonly refreshes = new Map<string, { at: number; running: Promise<boolean>; done: boolean }>();
  private readonly reconciling = new Map<string, Promise<{ before: number; after: number }>>();

  private readonly memoMs: number;
  private readonly groups: Batcher<Asked, ReservedWith>;

  constructor(private readonly deps: ReservationDeps) {
    this.memoMs = deps.exhaustedMemoMs ?? DEFAULT_EXHAUSTED_MEMO_MS;
    // No linger: what arrives in the same turn of the event loop (or while a group of the product
    // is in flight) goes together. Up to `shards` groups of a product in flight, each taking its units
    // from its first claim's shard.
    this.groups = new Batcher((_key, asked) => this.reserveGroup(asked), {
      maxItems: MAX_GROUP,
      lingerMs: 0,
      maxInFlight: deps.shards,
      clash: (a, b) => a.hint === b.hint,
    });
  }

  /**
   * Takes one unit of the product together with `companion(shard)`, a write in the tenant's
   * partition of the same container, in one transactional batch: both are applied or neither is.
   */
  async reserveWith(tenantId: string, skuId: string, hint: string, companion: (shard: number) => OperationInput): Promise<ReservedWith> {
    if (this.isMemoEmpty(tenantId, skuId, "all") || (this.graphExhaustedUntil.get(`${tenantId}|${skuId}`) ?? 0) > Date.now()) return { kind: "none" };
    return this.groups.submit(`${tenantId}|${skuId}`, { tenantId, skuId, hint, companion });
  }

  /**
   * Reservations of one product asked for together: one batch for all when one shard has the units.
   * Taken one at a time, a reservation that fails (Cosmos unavailable) fails alone: the others are
   * made, and their callers must hear so (the units are taken and the claims written).
   */
  private async reserveGroup(asked: Asked[]): Promise<(ReservedWith | ItemFailure)[]> {
    const [first] = asked;
    if (!first) return [];
    if (asked.length === 1) return [await this.reserveOne(first)];
    const { tenantId, skuId } = first;
    const shard = shardOf(first.hint, this.deps.shards);
    if (!this.isMemoEmpty(tenantId, skuId, shard)) {
      const outcome = await transact(this.deps.container, tenantId, [...asked.map((a) => a.companion(shard)), takeUnits(skuId, shard, asked.length)]);
      if (outcome.ok) return asked.map((_, i) => ({ kind: "reserved", reservation: { skuId, shard }, result: outcome.results[i]! }));
      if (outcome.index < asked.length) {
        // That claim's write was refused (its claim exists, or changed): the others go again.
        const others = await this.reserveGroup(asked.filter((_, i) => i !== outcome.index));
        others.splice(outcome.index, 0, { kind: "refused", statusCode: outcome.statusCode });
        return others;
      }
    }
    // The shard has fewer units than the group (or none, or no counters yet): one at a time.
    const each = await Promise.allSettled(asked.map((a) => this.reserveOne(a)));
    return each.map((s) => (s.status === "fulfilled" ? s.value : new ItemFailure(s.reason)));
  }

  private async reserveOne({ tenantId, skuId, hint, companion }: Asked): Promise<ReservedWith> {
    const shards = this.deps.shards;
    const start = shardOf(hint, shards);
    let initialized = false;
    for (let i = 0; i < shards; i++) {
      const shard = (start + i) % shards;
      if (this.isMemoEmpty(tenantId, skuId, shard)) continue;
      const outcome = await transact(this.deps.container, tenantId, [companion(shard), takeUnits(skuId, shard, 1)]);
      if (outcome.ok) return { kind: "reserved", reservation: { skuId, shard }, result: outcome.results[0]! };
      if (outcome.index === 0) return { kind: "refused", statusCode: outcome.statusCode };
      if (outcome.statusCode === 412) {
        this.memoEmpty(tenantId, skuId, shard, this.memoMs);
        continue;
      }
      if (outcome.statusCode === 404 && !initialized) {
        await this.initialize(tenantId, skuId);
        initialized = true;
        i--;
        continue;
      }
      throw new AppError("unavailable", `Reserving a unit of ${skuId} failed (${outcome.statusCode}).`, { retryAfterSeconds: 5 });
    }
    this.memoEmpty(tenantId, skuId, "all", this.memoMs);
    return { kind: "none" };
  }

  /** Gives a unit back (the claim did not happen). */
  async release(tenantId: string, reservation: Reservation): Promise<void> {
    await patchIf(this.deps.container, counterId(reservation.skuId, reservation.shard), tenantId, [{ op: "incr", path: "/available", value: 1 }]);
    this.emptyUntil.delete(memoKey(tenantId, reservation.skuId, reservation.shard));
    this.emptyUntil.delete(memoKey(tenantId, reservation.skuId, "all"));
  }

  /** Graph said the product has no license left: skip it for a while and bring the counters in line. */
  graphExhausted(tenantId: string, skuId: string): void {
    this.graphExhaustedUntil.set(`${tenantId}|${skuId}`, Date.now() + this.memoMs);
    void this.reconcile(tenantId, skuId).catch(() => undefined);
  }

  /**
   * The counters of these products found them empty: bring each in line with Graph (at most once per
   * `emptyRefreshMs` per product; concurrent callers share the read). True when one has units now.
   */
  async refreshEmpty(tenantId: string, skuIds: readonly string[]): Promise<boolean> {
    const interval = this.deps.emptyRefreshMs ?? DEFAULT_EMPTY_REFRESH_MS;
    const gained = await Promise.all(
      skuIds.map((skuId) => {
        const key = `${tenantId}|${skuId}`;
        const last = this.refreshes.get(key);
        // A refresh still running is shared; one that ended within the interval already brought in what Graph had.
        if (last && Date.now() - last.at < interval) return last.done ? Promise.resolve(false) : last.running;
        const entry = { at: Date.now(), running: Promise.resolve(false), done: false };
        entry.running = this.reconcile(tenantId, skuId)
          .then(
            ({ after }) => after > 0,
            () => false, // Graph or Cosmos unreachable: the claim fails as the counters say; maintenance reconciles later
          )
          .finally(() => (entry.done = true));
        this.refreshes.set(key, entry);
        return entry.running;
      }),
    );
    return gained.some(Boolean);
  }

  /**
   * Brings the product's counters to what Graph says is available minus the reservations in flight,
   * by adding the difference (increments commute with concurrent reservations: nothing is lost).
   * Two reconciliations of one product must not both add the same difference: callers in this
   * process share one, and a lease item in Cosmos lets one instance at a time do it (another finds
   * the counters as they are).
   */
  async reconcile(tenantId: string, skuId: string): Promise<{ before: number; after: number }> {
    const key = `${tenantId}|${skuId}`;
    let running = this.reconciling.get(key);
    if (!running) {
      running = this.reconcileLeased(tenantId, skuId).finally(() => this.reconciling.delete(key));
      this.reconciling.set(key, running);
    }
    return running;
  }

  private async reconcileLeased(tenantId: string, skuId: string): Promise<{ before: number; after: number }> {
    const lease = { id: `reconcile-lease:${skuId}`, type: "reconcile-lease", tenantId, skuId, until: new Date(Date.now() + RECONCILE_LEASE_MS).toISOString() };
    const release = await takeLease(this.deps.container, lease, tenantId);
    if (!release) {
      const sum = (await this.counters(tenantId, skuId)).reduce((s, c) => s + c.available, 0);
      return { before: sum, after: sum };
    }
    try {
      return await this.reconcileNow(tenantId, skuId);
    } finally {
      await release(); // else it expires
    }
  }

  private async reconcileNow(tenantId: string, skuId: string): Promise<{ before: number; after: number }> {
    const [inGraph, pending, counters] = await Promise.all([
      this.deps.availableInGraph(tenantId, skuId),
      this.deps.pendingClaims(tenantId, skuId),
      this.counters(tenantId, skuId),
    ]);
    const desired = Math.max(0, (inGraph ?? 0) - pending);
    const before = counters.reduce((sum, c) => sum + c.available, 0);
    if (counters.length < this.deps.shards) {
      await this.initialize(tenantId, skuId, desired);
      return { before, after: desired };
    }
    const changes = distribute(counters, desired - before);
    const at = new Date().toISOString();
    await Promise.all(
      [...changes].filter(([, v]) => v !== 0).map(([shard, value]) => {
        return patchIf(this.deps.container, counterId(skuId, shard), tenantId, [
          { op: "incr", path: "/available", value },
          { op: "set", path: "/updatedAt", value: at },
        ]);
      }),
    );
    for (const c of counters) this.emptyUntil.delete(memoKey(tenantId, skuId, c.shard));
    if (desired > 0) this.emptyUntil.delete(memoKey(tenantId, skuId, "all"));
    return { before, after: before + [...changes.values()].reduce((a, b) => a + b, 0) };
  }

  /** The product's counter items (for reconciliation and tests). */
  async counters(tenantId: string, skuId: string): Promise<CounterDocument[]> {
    return queryAll<CounterDocument>(
      this.deps.container,
      {
        query: "SELECT * FROM c WHERE c.tenantId = @t AND c.type = 'sku-counter' AND c.skuId = @s",
        parameters: [{ name: "@t", value: tenantId }, { name: "@s", value: skuId }],
      },
      { partitionKey: tenantId, maxItems: 1000 },
    );
  }

  /** Creates the product's counters from Graph (once; concurrent callers share the work). */
  private initialize(tenantId: string, skuId: string, available?: number): Promise<void> {
    const key = `${tenantId}|${skuId}`;
    let running = this.initializing.get(key);
    if (!running) {
      running = this.createCounters(tenantId, skuId, available).finally(() => this.initializing.delete(key));
      this.initializing.set(key, running);
    }
    return running;
  }

  private async createCounters(tenantId: string, skuId: string, available?: number): Promise<void> {
    const total = available ?? Math.max(0, (await this.deps.availableInGraph(tenantId, skuId)) ?? 0);
    const shards = this.deps.shards;
    const at = (this.deps.now ?? (() => new Date()))().toISOString();
    await Promise.all(
      Array.from({ length: shards }, async (_, shard) => {
        const share = Math.floor(total / shards) + (shard < total % shards ? 1 : 0);
        try {
          await createItem<CounterDocument>(this.deps.container, {
            id: counterId(skuId, shard), type: "sku-counter", tenantId, skuId, shard, available: share, updatedAt: at,
          });
        } catch (err) {
          if (!(err instanceof AppError && err.kind === "conflict")) throw err;
        }
      }),
    );
  }

  private isMemoEmpty(tenantId: string, skuId: string, shard: number | "all"): boolean {
    const until = this.emptyUntil.get(memoKey(tenantId, skuId, shard));
    return until !== undefined && until > Date.now();
  }

  private memoEmpty(tenantId: string, skuId: string, shard: number | "all", ms: number): void {
    if (ms <= 0) return;
    this.emptyUntil.set(memoKey(tenantId, skuId, shard), Date.now() + ms);
  }
}

/**
 * Per-shard increments that change the total by `delta`: an increase is spread evenly, a decrease
 * is taken from the fullest shards first and never takes a shard below zero.
 */
export function distribute(counters: readonly { shard: number; available: number }[], delta: number): Map<number, number> {
  const changes = new Map<number, number>();
  if (delta > 0) {
    const n = counters.length;
    counters.forEach((c, i) => changes.set(c.shard, Math.floor(delta / n) + (i < delta % n ? 1 : 0)));
  } else if (delta < 0) {
    let remaining = -delta;
    for (const c of [...counters].sort((a, b) => b.available - a.available)) {
      if (remaining === 0) break;
      const take = Math.min(Math.max(0, c.available), remaining);
      if (take > 0) changes.set(c.shard, -take);
      remaining -= take;
    }
  }
  return changes;
}

const memoKey = (tenantId: string, skuId: string, shard: number | "all") => `${tenantId}|${skuId}|${shard}`;

/** The shard a user starts at: stable per user, spread evenly. */
export function shardOf(hint: string, shards: number): number {
  return createHash("sha256").update(hint).digest().readUInt32BE(0) % shards;
}
