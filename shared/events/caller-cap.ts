import type { Container } from "@azure/cosmos";
import { AppError } from "../errors/app-error.js";
import { createItem, patchIf, readItem } from "../storage/repository.js";

/**
 * The per-caller daily cap on claims (rules for every event): how many events one caller (a relay's
 * app, Entra's extension, the sign-in log poller) may have in flight or claiming per UTC day. Each
 * accepted event takes a unit; one that ends without a claim (skipped, failed, handed to the
 * Dataverse sync) gives it back, so sign-ins of users already licensed do not use the cap up.
 * Past it the caller gets 429 and its events are kept and processed the next day.
 *
 * Counting every event with a Cosmos write would add a request per event on one hot item, so each
 * instance counts in memory and adds its count to the day's document about once a second
 * (`flushMs`). One instance is exact; N instances may together overshoot by what they accept
 * between two flushes - acceptable for a safety limit, which is what the cap is.
 */
interface CapDocument {
  id: string;
  type: "caller-cap";
  tenantId: string;
  callerId: string;
  day: string;
  count: number;
}

interface Counter {
  known: number;
  pending: number;
  loading?: Promise<void>;
  flushing?: Promise<void>;
  timer?: NodeJS.Timeout;
}

export type CapDecision = { ok: true; day: string } | { ok: false; day: string; retryAfterSeconds: number };

export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** Seconds until the next UTC day starts (at least 1). */
export function secondsUntilNextDay(at: Date): number {
  const next = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate() + 1);
  return Math.max(1, Math.ceil((next - at.getTime()) / 1000));
}

export class CallerCaps {
  private readonly counters = new Map<string, Counter>();

  constructor(
    private readonly container: Container,
    private readonly cap: number,
    private readonly now: () => Date = () => new Date(),
    private readonly flushMs = 1000,
  ) {}

  /** Takes one unit of today's cap for the caller, or says when to come back. */
  async tryTake(tenantId: string, callerId: string): Promise<CapDecision> {
    const at = this.now();
    const day = utcDay(at);
    const counter = await this.counter(tenantId, callerId, day);
    if (counter.known + counter.pending >= this.cap) return { ok: false, day, retryAfterSeconds: secondsUntilNextDay(at) };
    counter.pending++;
    this.scheduleFlush(tenantId, callerId, day, counter);
    return { ok: true, day };
  }

  /** Gives a unit back (the event turned out to be a replay, or could not be queued). */
  refund(tenantId: string, callerId: string, day: string): void {
    const counter = this.counters.get(key(tenantId, callerId, day));
    if (counter) counter.pending--;
  }

  /**
   * Gives back the unit an event took on `day` once it ends without a claim, from whichever
   * instance processes it (the count is shared through the day's document). A unit of an earlier
   * day is not given back: that day is over.
   */
  async giveBack(tenantId: string, callerId: string, day: string): Promise<void> {
    if (day !== utcDay(this.now())) return;
    const counter = await this.counter(tenantId, callerId, day);
    counter.pending--;
    this.scheduleFlush(tenantId, callerId, day, counter);
  }

  /** Writes every pending count now (tests, shutdown). */
  async flushAll(): Promise<void> {
    await Promise.all([...this.counters.entries()].map(([k, c]) => {
      const [tenantId, callerId, day] = k.split("|") as [string, string, string];
      return this.flush(tenantId, callerId, day, c);
    }));
  }

  private async counter(tenantId: string, callerId: string, day: string): Promise<Counter> {
    const k = key(tenantId, callerId, day);
    let counter = this.counters.get(k);
    if (!counter) {
      for (const old of this.counters.keys()) if (!old.endsWith(`|${day}`)) this.counters.delete(old);
      counter = { known: 0, pending: 0 };
      const created = counter;
      created.loading = readItem<CapDocument>(this.container, docId(callerId, day), tenantId)
        .then((doc) => void (created.known = doc?.count ?? 0))
        .catch((err: unknown) => {
          this.counters.delete(k);
          throw err;
        });
      this.counters.set(k, counter);
    }
    await counter.loading;
    return counter;
  }

  private scheduleFlush(tenantId: string, callerId: string, day: string, counter: Counter): void {
    if (counter.timer) return;
    counter.timer = setTimeout(() => {
      counter.timer = undefined;
      this.flush(tenantId, callerId, day, counter).catch(() => {
        // Cosmos unavailable: the count stays pending and the next event schedules another flush.
      });
    }, this.flushMs);
    counter.timer.unref();
  }

  private async flush(tenantId: string, callerId: string, day: string, counter: Counter): Promise<void> {
    await counter.flushing;
    const amount = counter.pending;
    if (amount === 0) return;
    counter.pending -= amount;
    counter.flushing = this.add(tenantId, callerId, day, amount)
      .then((total) => void (counter.known = total))
      .catch((err: unknown) => {
        counter.pending += amount;
        throw err;
      })
      .finally(() => (counter.flushing = undefined));
    await counter.flushing;
  }

  private async add(tenantId: string, callerId: string, day: string, amount: number): Promise<number> {
    const id = docId(callerId, day);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const doc = await patchIf<CapDocument>(this.container, id, tenantId, [{ op: "incr", path: "/count", value: amount }]);
        return doc.count;
      } catch (err) {
        if (!(err instanceof AppError && err.kind === "notFound")) throw err;
      }
      try {
        const doc = await createItem<CapDocument>(this.container, { id, type: "caller-cap", tenantId, callerId, day, count: amount });
        return doc.count;
      } catch (err) {
        if (!(err instanceof AppError && err.kind === "conflict")) throw err;
      }
    }
    throw new AppError("unavailable", "The caller's daily count could not be written.", { retryAfterSeconds: 1 });
  }
}

const key = (tenantId: string, callerId: string, day: string) => `${tenantId}|${callerId}|${day}`;
const docId = (callerId: string, day: string) => `cap:${callerId}:${day}`;
