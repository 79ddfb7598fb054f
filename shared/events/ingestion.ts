import { AppError } from "../errors/app-error.js";
import { newEnvelope } from "../queue/envelope.js";
import type { QueueSender } from "../queue/transport.js";
import type { CallerCaps } from "./caller-cap.js";
import { secondsUntilNextDay } from "./caller-cap.js";
import { eventPartition, type EventStore } from "./event-store.js";
import {
  bodyHashOf, SIGN_IN_EVENT_KIND, type Caller, type EventDocument, type EventSource, type EventStatus, type SignInEnvelopeBody, type SignInEvent,
} from "./sign-in-event.js";

/**
 * Ingestion of a sign-in event from any source (E1, E2, E3): the rules every event obeys, then one
 * `sign-in-event` envelope on the event queue (envelope id = event id; Service Bus `messageId`).
 *
 * - idempotent by eventId: the same id and body get the same answer (the event's current status),
 *   another body (the same instant written otherwise is the same body) or another caller with a
 *   known id is 409 `event-id-reused`;
 * - refused (422) when `occurredAt` is more than 24 hours old or in the future (5 minutes of clock
 *   skew allowed);
 * - a caller over its daily cap gets 429, and its event is kept: stored as `deferred` and queued
 *   to be processed when the next UTC day starts;
 * - the event is stored before it is queued; when the queue cannot take it the stored copy is
 *   removed and the answer is 503 (the producer retries: nothing is lost, nothing half-accepted).
 */
export const MAX_EVENT_AGE_MS = 24 * 3600_000;
export const CLOCK_SKEW_MS = 5 * 60_000;

export interface IngestDeps {
  events: EventStore;
  caps: CallerCaps;
  queue: QueueSender;
  now?: () => Date;
}

export interface IngestResult {
  id: string;
  status: EventStatus;
  /** 202, or 429 while the event waits for its caller's next day. */
  httpStatus: 202 | 429;
  retryAfterSeconds?: number;
  replay: boolean;
}

export async function ingestSignInEvent(
  deps: IngestDeps,
  tenantId: string,
  event: SignInEvent,
  source: EventSource,
  caller: Caller,
): Promise<IngestResult> {
  const now = (deps.now ?? (() => new Date()))();
  const bodyHash = bodyHashOf(event);
  const refusal = timeRefusal(event, now);
  if (refusal) {
    // A replay of an event accepted earlier still gets its answer, however old it is now.
    const existing = await deps.events.get(tenantId, event.eventId);
    if (existing) return replayOf(existing, bodyHash, caller, now);
    throw refusal;
  }

  const cap = await deps.caps.tryTake(tenantId, caller.id);
  const deferred = !cap.ok;
  const doc: EventDocument = {
    id: event.eventId,
    partitionKey: eventPartition(tenantId, event.eventId),
    type: "sign-in-event",
    tenantId,
    event,
    bodyHash,
    source,
    caller,
    receivedAt: now.toISOString(),
    status: deferred ? "deferred" : "queued",
    answer: deferred ? 429 : 202,
    ...(deferred ? { code: "daily-cap-reached", reason: `the caller ${caller.id} reached its daily cap; processed after ${cap.day} (UTC)` } : {}),
    updatedAt: now.toISOString(),
  };
  try {
    await deps.events.create(doc);
  } catch (err) {
    if (cap.ok) deps.caps.refund(tenantId, caller.id, cap.day);
    if (!(err instanceof AppError && err.kind === "conflict")) throw err;
    const existing = await deps.events.get(tenantId, event.eventId);
    if (!existing) throw new AppError("unavailable", "The event is being stored concurrently; try again.", { retryAfterSeconds: 1 });
    const replay = replayOf(existing, bodyHash, caller, now);
    // Not processed yet: it may never have reached the queue (the first request's send failed, and
    // so did removing the event), so it is sent again; a send that fails is the caller's 503, not a
    // 202 for an event on no queue.
    if (existing.status === "queued" || existing.status === "deferred") {
      try {
        await enqueue(deps, tenantId, existing, now);
      } catch (err) {
        throw queueUnavailable(err);
      }
    }
    return replay;
  }

  try {
    await enqueue(deps, tenantId, doc, now);
  } catch (err) {
    if (cap.ok) deps.caps.refund(tenantId, caller.id, cap.day);
    await deps.events.delete(tenantId, event.eventId).catch(() => undefined);
    throw queueUnavailable(err);
  }
  return deferred
    ? { id: event.eventId, status: "deferred", httpStatus: 429, retryAfterSeconds: secondsUntilNextDay(now), replay: false }
    : { id: event.eventId, status: "queued", httpStatus: 202, replay: false };
}

function queueUnavailable(err: unknown): unknown {
  return err instanceof AppError && err.transient
    ? new AppError("unavailable", "The event queue is unavailable; the event was not accepted. Send it again later.", {
        code: "event-queue-unavailable",
        retryAfterSeconds: err.retryAfterSeconds ?? 5,
        cause: err,
      })
    : err;
}

/** Puts the event's envelope on the queue (delayed to the next UTC day when deferred by the cap). */
async function enqueue(deps: IngestDeps, tenantId: string, doc: EventDocument, now: Date): Promise<void> {
  const body: SignInEnvelopeBody = {
    event: doc.event,
    source: doc.source,
    caller: doc.caller,
    receivedAt: doc.receivedAt,
    ...(doc.status === "deferred" ? { deferredDay: doc.receivedAt.slice(0, 10) } : {}),
  };
  const envelope = newEnvelope({ kind: SIGN_IN_EVENT_KIND, tenantId, body, id: doc.event.eventId, now });
  // Spread a deferred day's events over the first minutes of the next day.
  const delaySeconds = doc.status === "deferred" ? secondsUntilNextDay(now) + Math.floor(Math.random() * 300) : undefined;
  await deps.queue.send(envelope, delaySeconds === undefined ? {} : { delaySeconds });
}

function replayOf(existing: EventDocument, bodyHash: string, caller: Caller, now: Date): IngestResult {
  // Another caller's event is none of this caller's business: neither its status nor a Location it may not read.
  if (existing.caller.id !== caller.id || existing.caller.kind !== caller.kind) {
    throw new AppError("conflict", `The event id ${existing.event.eventId} was already used by another caller; a new event needs a new id.`, {
      code: "event-id-reused",
      extensions: { eventId: existing.event.eventId },
    });
  }
  // Recomputed from the stored event: a hash stored under an older normalisation still compares the same body.
  if (bodyHashOf(existing.event) !== bodyHash) {
    throw new AppError("conflict", `The event id ${existing.event.eventId} was already used for another event; a new event needs a new id.`, {
      code: "event-id-reused",
      extensions: { eventId: existing.event.eventId },
    });
  }
  return existing.status === "deferred"
    ? { id: existing.event.eventId, status: "deferred", httpStatus: 429, retryAfterSeconds: secondsUntilNextDay(now), replay: true }
    : { id: existing.event.eventId, status: existing.status, httpStatus: 202, replay: true };
}

/** 422 for an event more than 24 hours old or in the future. */
export function timeRefusal(event: SignInEvent, now: Date): AppError | undefined {
  const at = Date.parse(event.occurredAt);
  if (at > now.getTime() + CLOCK_SKEW_MS) {
    return new AppError("businessRule", "occurredAt is in the future.", { code: "event-in-future", extensions: { occurredAt: event.occurredAt } });
  }
  if (now.getTime() - at > MAX_EVENT_AGE_MS) {
    return new AppError("businessRule", "occurredAt is more than 24 hours ago: the event is too old to act on.", {
      code: "event-too-old",
      extensions: { occurredAt: event.occurredAt },
    });
  }
  return undefined;
}
