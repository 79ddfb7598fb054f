import { AppError } from "../errors/app-error.js";
import type { Envelope } from "./envelope.js";

export type TransportName = "service-bus" | "storage-queue";

export interface SendOptions {
  /** Keep the message invisible for this long (seconds) before a consumer can receive it. */
  delaySeconds?: number;
}

/** Puts envelopes on one queue. Implementations map outages and throttling to AppError `unavailable`. */
export interface QueueSender {
  readonly transport: TransportName;
  readonly queueName: string;
  send(envelope: Envelope, options?: SendOptions): Promise<void>;
  close(): Promise<void>;
}

export { isNetworkError } from "../errors/network.js";

export function transportUnavailable(what: string, cause: unknown, retryAfterSeconds = 5): AppError {
  return new AppError("unavailable", `${what} is unavailable.`, { retryAfterSeconds, cause });
}

/** Whole seconds of delay, or undefined for "now". */
export function delayInSeconds(options: SendOptions | undefined): number | undefined {
  const delay = options?.delaySeconds;
  if (delay === undefined || delay <= 0) return undefined;
  if (!Number.isFinite(delay)) throw new RangeError(`delaySeconds must be finite, got ${delay}`);
  return Math.ceil(delay);
}
