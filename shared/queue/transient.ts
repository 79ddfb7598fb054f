import { z } from "zod";
import { AppError } from "../errors/app-error.js";
import { nextAttempt, parseEnvelope, type Envelope } from "./envelope.js";
import type { FailureRecord, FailureStore } from "./failure-store.js";
import type { QueueSender } from "./transport.js";

/**
 * Why this exists: the Functions queue triggers retry a failed message at once and only a few
 * times (storage queue: 5 dequeues, then the poison queue; Service Bus: redelivered immediately,
 * dead-lettered after maxDeliveryCount), and function-level retry policies do not apply. A
 * 30-second outage would exhaust every attempt. So a handler's transient failure is re-enqueued
 * here with a delay and an attempt counter, and the original message completes normally.
 */

export interface RetryPolicy {
  /** Attempts in total, the first delivery included. */
  maxAttempts: number;
  /** Delay before the next attempt, given the attempt that just failed (1-based). */
  delaySeconds: (attempt: number) => number;
}

/** 5, 10, 20, 40, 60, 60, ... seconds by default. */
export function exponentialBackoff(options: { initialSeconds?: number; maxSeconds?: number } = {}) {
  const initial = options.initialSeconds ?? 5;
  const max = options.maxSeconds ?? 60;
  return (attempt: number): number => Math.min(max, initial * 2 ** Math.max(0, attempt - 1));
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 8, delaySeconds: exponentialBackoff() };

/** What `context` (InvocationContext) and `console` both offer. */
export interface QueueLogger {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

export interface ProcessDeps {
  /** Sender for the queue the message came from (retries go back onto it). */
  sender: QueueSender;
  failures: FailureStore;
  policy?: Partial<RetryPolicy>;
  log: QueueLogger;
  now?: () => Date;
}

export type ProcessResult =
  | { outcome: "done"; envelope: Envelope }
  | { outcome: "retry-scheduled"; envelope: Envelope; nextAttempt: number; delaySeconds: number; reason: string }
  | { outcome: "failed"; reason: string; failure: FailureRecord; envelope?: Envelope };

/** Marks an error as worth retrying later, for failures that are not AppErrors. */
export class TransientError extends Error {
  readonly transient = true;
  readonly retryAfterSeconds: number | undefined;

  constructor(message: string, options: { cause?: unknown; retryAfterSeconds?: number } = {}) {
    super(message, { cause: options.cause });
    this.name = "TransientError";
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

type Classified =
  | { type: "transient"; reason: string; retryAfterSeconds?: number }
  | { type: "permanent"; reason: string }
  | { type: "bug" };

/**
 * Transient: AppError with `transient` (unavailable, tooManyRequests) or any error carrying
 * `transient: true`. Permanent: any other AppError, and a ZodError (a body that fails its
 * handler's schema will fail the same way every time). Anything else is a bug.
 */
export function classifyError(err: unknown): Classified {
  if (typeof err === "object" && err !== null && (err as { transient?: unknown }).transient === true) {
    const retryAfter = (err as { retryAfterSeconds?: unknown }).retryAfterSeconds;
    return {
      type: "transient",
      reason: describe(err),
      ...(typeof retryAfter === "number" && { retryAfterSeconds: retryAfter }),
    };
  }
  if (err instanceof AppError) return { type: "permanent", reason: describe(err) };
  if (err instanceof z.ZodError) return { type: "permanent", reason: `invalid message body: ${z.prettifyError(err)}` };
  return { type: "bug" };
}

/**
 * Runs `handler` for one queue message and decides what happens to it:
 * - malformed (not JSON, not an envelope): recorded in the failure store with the raw content;
 * - success: done;
 * - transient failure: re-sent with attempt + 1, `lastError` and a delay (the original completes),
 *   or, at `maxAttempts`, recorded as "gave up after N attempts: <reason>";
 * - permanent failure (any other AppError): recorded with its reason;
 * - unknown error (a bug): rethrown, so the host's retries and poison/dead-letter queue keep it.
 * If re-sending or recording fails, that error is thrown: the host retries the original message,
 * so nothing is lost.
 */
export async function processMessage(
  raw: unknown,
  handler: (envelope: Envelope) => Promise<void>,
  deps: ProcessDeps,
): Promise<ProcessResult> {
  const now = deps.now ?? (() => new Date());
  const policy: RetryPolicy = {
    maxAttempts: deps.policy?.maxAttempts ?? DEFAULT_RETRY_POLICY.maxAttempts,
    delaySeconds: deps.policy?.delaySeconds ?? DEFAULT_RETRY_POLICY.delaySeconds,
  };
  const source = { transport: deps.sender.transport, queue: deps.sender.queueName };

  const parsed = parseEnvelope(raw);
  if (!parsed.ok) {
    const tenantId = tenantHint(raw);
    const failure = await deps.failures.record({ reason: parsed.reason, source, raw: parsed.rawText, ...(tenantId && { tenantId }) });
    deps.log.warn("queue message malformed; recorded", { failureId: failure.id, reason: parsed.reason, ...source });
    return { outcome: "failed", reason: parsed.reason, failure };
  }

  const { envelope } = parsed;
  const fields = { tenantId: envelope.tenantId, kind: envelope.kind, envelopeId: envelope.id, attempt: envelope.attempt };
  try {
    await handler(envelope);
    return { outcome: "done", envelope };
  } catch (err) {
    const classified = classifyError(err);
    if (classified.type === "bug") {
      deps.log.error("queue handler failed unexpectedly; leaving the message to the host's retries", { ...fields, err });
      throw err;
    }
    if (classified.type === "transient" && envelope.attempt < policy.maxAttempts) {
      const delaySeconds = Math.max(policy.delaySeconds(envelope.attempt), classified.retryAfterSeconds ?? 0);
      const next = nextAttempt(envelope, classified.reason, now());
      await deps.sender.send(next, { delaySeconds });
      deps.log.warn("queue message failed transiently; retry scheduled", { ...fields, delaySeconds, reason: classified.reason });
      return { outcome: "retry-scheduled", envelope: next, nextAttempt: next.attempt, delaySeconds, reason: classified.reason };
    }
    const reason =
      classified.type === "transient" ? `gave up after ${envelope.attempt} attempts: ${classified.reason}` : classified.reason;
    const failure = await deps.failures.record({ envelope, reason, source });
    deps.log.warn("queue message failed; recorded", { ...fields, failureId: failure.id, reason });
    return { outcome: "failed", reason, failure, envelope };
  }
}

function describe(err: unknown): string {
  if (err instanceof AppError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** The tenant of a malformed message, when its JSON still names one (for the tenant's failure report). */
function tenantHint(raw: unknown): string | undefined {
  let value = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      return undefined;
    }
  }
  const tenantId = typeof value === "object" && value !== null ? (value as { tenantId?: unknown }).tenantId : undefined;
  return typeof tenantId === "string" && /^[A-Za-z0-9-]{1,64}$/.test(tenantId) ? tenantId : undefined;
}
