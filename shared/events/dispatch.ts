import type { InvocationContext } from "@azure/functions";
import { AppError } from "../errors/app-error.js";
import type { Envelope } from "../queue/envelope.js";

/** A queue message handler for one envelope kind; it validates `envelope.body` with its own schema. */
export type EnvelopeHandler = (envelope: Envelope, context: InvocationContext) => Promise<void>;

/**
 * Handlers by envelope kind. Features register theirs here (sign-in events, first access, sync jobs);
 * an envelope of a kind nobody handles can never succeed, so it is a permanent failure (kept with
 * its reason), not retried.
 */
const handlers = new Map<string, EnvelopeHandler>();

export function registerEnvelopeHandler(kind: string, handler: EnvelopeHandler): void {
  if (handlers.has(kind)) throw new Error(`A handler for "${kind}" is already registered.`);
  handlers.set(kind, handler);
}

export async function dispatchEnvelope(envelope: Envelope, context: InvocationContext): Promise<void> {
  const handler = handlers.get(envelope.kind);
  if (!handler) {
    throw new AppError("validation", `No handler for messages of kind "${envelope.kind}".`, { code: "unknown-message-kind" });
  }
  await handler(envelope, context);
}

/** The transport's delivery count of the message being handled (storage queue or Service Bus), when the trigger reports it. */
export function deliveryCount(context: InvocationContext): number | undefined {
  const metadata = context.triggerMetadata ?? {};
  const n = Number(metadata.dequeueCount ?? metadata.deliveryCount);
  return Number.isInteger(n) && n >= 1 ? n : undefined;
}
