import type { Container, PatchOperation } from "@azure/cosmos";
import { AppError } from "../errors/app-error.js";
import { mapLimited } from "../concurrency/pool.js";
import { GroupedWrites } from "../storage/grouped-writes.js";
import { createItem, deleteItem, patchIf, queryAll, readItem, type Stored } from "../storage/repository.js";
import type { EventDocument, EventStatus } from "./sign-in-event.js";

/**
 * Sign-in events in the `events` container. Partition key `tenantId|eventId`: the id alone finds
 * an event (idempotency at ingestion, GET /sign-in-events/{id}), whatever its body says, and no
 * partition grows with time. The report reads across partitions (filtered by tenant and time).
 */
export function eventPartition(tenantId: string, eventId: string): string {
  return `${tenantId}|${eventId}`;
}

export interface EventOutcome {
  status: EventStatus;
  code?: string | null;
  reason?: string | null;
  claim?: EventDocument["claim"];
  trackingPlan?: EventDocument["trackingPlan"];
  firstAccess?: EventDocument["firstAccess"];
}

/** Outcomes a later write may not overwrite: a claimed event stays claimed (a redelivery cannot downgrade it). */
const FINAL_CONDITION = "from c where NOT (c.status = 'claimed')";
/**
 * Other outcomes are written once: a second processing of the event (a producer's re-send while it
 * was queued puts it on the queue again) does not replace what the first did with what it found
 * after it ("present" for the tracking plan the first one assigned). Before that: unprocessed
 * (queued, retrying, waiting, deferred), or a bug's outcome, which a later delivery replaces.
 */
const FIRST_OUTCOME_CONDITION = "from c where NOT (c.status = 'claimed') AND (NOT IS_DEFINED(c.processedAt) OR IS_NULL(c.processedAt) OR c.code = 'internal-error')";

export interface EventStoreOptions {
  /**
   * How long a new event waits for others to share its write (ms). Events arriving together (a
   * morning's sign-ins) are stored in one bulk request instead of one request each; 0 groups only
   * the events that arrive while a write is in flight.
   */
  arrivalLingerMs?: number;
  now?: () => Date;
}

export class EventStore {
  /** Outcomes written within a moment of each other (the claims of one Graph `$batch`) share a request. */
  private readonly outcomes: GroupedWrites;
  /** New events arriving within `arrivalLingerMs` of each other share a request. */
  private readonly arrivals: GroupedWrites;
  private readonly now: () => Date;

  constructor(
    private readonly container: Container,
    options: EventStoreOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.outcomes = new GroupedWrites(container);
    this.arrivals = new GroupedWrites(container, { lingerMs: options.arrivalLingerMs ?? 0, maxInFlight: 4 });
  }

  /** Stores a new event; an existing id -> AppError `conflict`. */
  create(doc: EventDocument): Promise<void> {
    return this.arrivals.create(doc.partitionKey, doc);
  }

  get(tenantId: string, eventId: string): Promise<Stored<EventDocument> | undefined> {
    return readItem<EventDocument>(this.container, eventId, eventPartition(tenantId, eventId));
  }

  delete(tenantId: string, eventId: string): Promise<boolean> {
    return deleteItem(this.container, eventId, eventPartition(tenantId, eventId));
  }

  /**
   * Records what became of an event (one patch). A claimed event is never overwritten; returns
   * false when the write was refused for that reason (or the event is gone).
   */
  async setOutcome(tenantId: string, eventId: string, outcome: EventOutcome, options: { processed?: boolean } = {}): Promise<boolean> {
    const at = this.now().toISOString();
    const ops: PatchOperation[] = [
      { op: "set", path: "/status", value: outcome.status },
      { op: "set", path: "/code", value: outcome.code ?? null },
      { op: "set", path: "/reason", value: outcome.reason ?? null },
      { op: "set", path: "/updatedAt", value: at },
    ];
    if (outcome.claim !== undefined) ops.push({ op: "set", path: "/claim", value: outcome.claim });
    if (outcome.trackingPlan !== undefined) ops.push({ op: "set", path: "/trackingPlan", value: outcome.trackingPlan });
    if (outcome.firstAccess !== undefined) ops.push({ op: "set", path: "/firstAccess", value: outcome.firstAccess });
    // Not processed (yet): an earlier processedAt (a bug's outcome this replaces) is cleared, so the
    // event's outcome can still be written once it is processed.
    ops.push({ op: "set", path: "/processedAt", value: options.processed === false ? null : at });
    try {
      await this.outcomes.patch({ id: eventId, partitionKey: eventPartition(tenantId, eventId), operations: ops, conditions: { condition: outcome.status === "claimed" ? FINAL_CONDITION : FIRST_OUTCOME_CONDITION } });
      return true;
    } catch (err) {
      if (err instanceof AppError && (err.kind === "preconditionFailed" || err.kind === "notFound")) return false;
      throw err;
    }
  }

  /** A tenant's processed events with one of these statuses since `from` (the report; bounded by `maxItems`). */
  async processedSince(tenantId: string, statuses: readonly EventStatus[], from: Date, maxItems: number): Promise<EventDocument[]> {
    return queryAll<EventDocument>(
      this.container,
      {
        query:
          "SELECT TOP @top * FROM c WHERE c.tenantId = @t AND c.type = 'sign-in-event' AND ARRAY_CONTAINS(@statuses, c.status) " +
          "AND c.processedAt >= @from ORDER BY c.processedAt DESC",
        parameters: [
          { name: "@t", value: tenantId },
          { name: "@statuses", value: [...statuses] },
          { name: "@from", value: from.toISOString() },
          { name: "@top", value: maxItems },
        ],
      },
      { maxItems },
    );
  }

  /**
   * L12/A11: processed events since `from` whose free tracking plan could not be assigned, whatever
   * the event's own status (newest first, at most `maxItems`), and the code of every one of them.
   */
  async trackingPlanFailuresSince(tenantId: string, from: Date, maxItems: number): Promise<{ events: EventDocument[]; codes: string[] }> {
    const where = "c.tenantId = @t AND c.type = 'sign-in-event' AND c.trackingPlan.outcome = 'failed' AND c.processedAt >= @from";
    const parameters = [{ name: "@t", value: tenantId }, { name: "@from", value: from.toISOString() }];
    const [events, plans] = await Promise.all([
      queryAll<EventDocument>(this.container, { query: `SELECT TOP @top * FROM c WHERE ${where} ORDER BY c.processedAt DESC`, parameters: [...parameters, { name: "@top", value: maxItems }] }, { maxItems }),
      queryAll<{ code?: string; reason?: string }>(this.container, { query: `SELECT VALUE c.trackingPlan FROM c WHERE ${where}`, parameters }, { maxItems: 1_000_000 }),
    ]);
    return { events, codes: plans.map(trackingPlanFailureCode) };
  }

  /**
   * Counts per status and code since `from` (complete, whatever the list limits). A report over 90
   * days would otherwise read every failed and skipped event of the period each time (an
   * already-licensed user's every sign-in is one), so each settled UTC day's counts are kept once
   * counted (`event-counts` items, expiring with the events): a report reads the days kept and
   * counts only the partial first day and the last day or two (not settled yet).
   */
  async countsSince(tenantId: string, statuses: readonly EventStatus[], from: Date): Promise<EventCount[]> {
    const now = this.now();
    const firstDay = ceilToDay(from);
    const settled = floorToDay(new Date(now.getTime() - DAY_SETTLES_AFTER_MS));
    if (firstDay >= settled) return this.countBetween(tenantId, statuses, from, now);
    const [head, days, tail] = await Promise.all([
      this.countBetween(tenantId, statuses, from, firstDay),
      this.dayCounts(tenantId, statuses, firstDay, settled),
      this.countBetween(tenantId, statuses, settled, now),
    ]);
    return merge([head, ...days, tail]);
  }

  /** The kept counts of each day in [first, end) (UTC day starts), counting and keeping the missing ones. */
  private async dayCounts(tenantId: string, statuses: readonly EventStatus[], first: Date, end: Date): Promise<EventCount[][]> {
    const key = [...statuses].sort().join(",");
    const partitionKey = `${tenantId}|event-counts`;
    const kept = await queryAll<DayCounts>(
      this.container,
      {
        query: "SELECT * FROM c WHERE c.type = 'event-counts' AND c.statuses = @s AND c.day >= @first AND c.day < @end",
        parameters: [{ name: "@s", value: key }, { name: "@first", value: dayOf(first) }, { name: "@end", value: dayOf(end) }],
      },
      { partitionKey, maxItems: 1_000 },
    );
    const byDay = new Map(kept.map((d) => [d.day, d.counts]));
    const missing: Date[] = [];
    for (let d = first; d < end; d = new Date(d.getTime() + DAY_MS)) if (!byDay.has(dayOf(d))) missing.push(d);
    await mapLimited(missing, DAY_COUNT_PARALLELISM, async (start) => {
      const counts = await this.countBetween(tenantId, statuses, start, new Date(start.getTime() + DAY_MS));
      const day = dayOf(start);
      byDay.set(day, counts);
      const doc: DayCounts = { id: `event-counts:${key}:${day}`, partitionKey, type: "event-counts", tenantId, statuses: key, day, counts };
      // Another report may have kept it meanwhile: the same counts.
      await createItem(this.container, doc).catch((err: unknown) => {
        if (!(err instanceof AppError && err.kind === "conflict")) throw err;
      });
    });
    return [...byDay.values()];
  }

  /** Counted from a two-field projection of the events processed in [from, to): the local Cosmos-compatible server has no GROUP BY. */
  private async countBetween(tenantId: string, statuses: readonly EventStatus[], from: Date, to: Date): Promise<EventCount[]> {
    if (from >= to) return [];
    const rows = await queryAll<{ status: EventStatus; code?: string | null }>(
      this.container,
      {
        query:
          "SELECT c.status, c.code FROM c WHERE c.tenantId = @t AND c.type = 'sign-in-event' " +
          "AND ARRAY_CONTAINS(@statuses, c.status) AND c.processedAt >= @from AND c.processedAt < @to",
        parameters: [
          { name: "@t", value: tenantId },
          { name: "@statuses", value: [...statuses] },
          { name: "@from", value: from.toISOString() },
          { name: "@to", value: to.toISOString() },
        ],
      },
      { maxItems: 1_000_000 },
    );
    return merge([rows.map((r) => ({ status: r.status, code: r.code ?? null, n: 1 }))]);
  }
}

export interface EventCount {
  status: EventStatus;
  code: string | null;
  n: number;
}

/** One UTC day's counts (container `events`, partition `tenantId|event-counts`; the container's TTL removes them with the events). */
interface DayCounts {
  id: string;
  partitionKey: string;
  type: "event-counts";
  tenantId: string;
  /** The statuses counted, sorted, comma-separated. */
  statuses: string;
  /** YYYY-MM-DD (UTC). */
  day: string;
  counts: EventCount[];
}

const DAY_MS = 86_400_000;
/**
 * A day's counts are kept once its events' outcomes are final: a day after it ends. An outcome may
 * still change for a while after it is written - a claim settled by the maintenance timer (minutes),
 * a redelivery replacing a bug's outcome, events in flight at midnight, instances' clocks - and the
 * kept count would then hold the old one.
 */
const DAY_SETTLES_AFTER_MS = DAY_MS;
/** Days counted at once when a report meets days not kept yet (the first report over 90 days). */
const DAY_COUNT_PARALLELISM = 4;

const floorToDay = (d: Date) => new Date(Math.floor(d.getTime() / DAY_MS) * DAY_MS);
const ceilToDay = (d: Date) => new Date(Math.ceil(d.getTime() / DAY_MS) * DAY_MS);
const dayOf = (d: Date) => d.toISOString().slice(0, 10);

function merge(lists: readonly (readonly EventCount[])[]): EventCount[] {
  const counts = new Map<string, EventCount>();
  for (const list of lists) {
    for (const c of list) {
      const key = `${c.status}|${c.code ?? ""}`;
      const entry = counts.get(key);
      if (entry) entry.n += c.n;
      else counts.set(key, { status: c.status, code: c.code, n: c.n });
    }
  }
  return [...counts.values()];
}

/** A failed tracking plan's code (outcomes stored before it had one: the code its reason starts with). */
export function trackingPlanFailureCode(plan: { code?: string; reason?: string } | null | undefined): string {
  return plan?.code ?? /^([a-z0-9-]+):/.exec(plan?.reason ?? "")?.[1] ?? "unknown";
}

/**
 * D4: what the sync did with the first access an event reported, on the event (the `events`
 * container; its own field: the claim side's outcome is untouched). An event gone is no error.
 */
export async function setFirstAccessResult(
  container: Container, tenantId: string, eventId: string, result: NonNullable<EventDocument["firstAccessResult"]>,
): Promise<void> {
  try {
    await patchIf(container, eventId, eventPartition(tenantId, eventId), [{ op: "set", path: "/firstAccessResult", value: result }]);
  } catch (err) {
    if (!(err instanceof AppError && err.kind === "notFound")) throw err;
  }
}
