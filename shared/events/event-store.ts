import type { Container, PatchOperation } from "@azure/cosmos";
import { AppError } from "../errors/app-error.js";
import { GroupedWrites } from "../storage/grouped-writes.js";
import { deleteItem, patchIf, queryAll, readItem, type Stored } from "../storage/repository.js";
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
   * Counts per status and code since `from` (complete, whatever the list limits). Counted from a
   * two-field projection: the local Cosmos-compatible server has no GROUP BY.
   */
  async countsSince(tenantId: string, statuses: readonly EventStatus[], from: Date): Promise<{ status: EventStatus; code: string | null; n: number }[]> {
    const rows = await queryAll<{ status: EventStatus; code?: string | null }>(
      this.container,
      {
        query:
          "SELECT c.status, c.code FROM c WHERE c.tenantId = @t AND c.type = 'sign-in-event' " +
          "AND ARRAY_CONTAINS(@statuses, c.status) AND c.processedAt >= @from",
        parameters: [
          { name: "@t", value: tenantId },
          { name: "@statuses", value: [...statuses] },
          { name: "@from", value: from.toISOString() },
        ],
      },
      { maxItems: 1_000_000 },
    );
    const counts = new Map<string, { status: EventStatus; code: string | null; n: number }>();
    for (const r of rows) {
      const key = `${r.status}|${r.code ?? ""}`;
      const entry = counts.get(key) ?? { status: r.status, code: r.code ?? null, n: 0 };
      entry.n++;
      counts.set(key, entry);
    }
    return [...counts.values()];
  }
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
