import { app, type InvocationContext } from "@azure/functions";
import { getConfig } from "../shared/config/config.js";
import { dispatchEnvelope } from "../shared/events/dispatch.js";
// Registers the claim processor for "sign-in-event" envelopes.
import "../shared/autoclaim/handler.js";
import { EVENT_QUEUE_STORAGE_CONNECTION, EVENT_SERVICE_BUS_CONNECTION, EVENTS_QUEUE } from "../shared/events/queues.js";
import { processMessage } from "../shared/queue/transient.js";
import { getRuntime } from "../shared/runtime.js";

/** One handler for both transports: the transient-failure helper re-enqueues, records or rethrows. */
export async function handler(message: unknown, context: InvocationContext): Promise<void> {
  const rt = await getRuntime();
  const result = await processMessage(message, (envelope) => dispatchEnvelope(envelope, context), {
    sender: rt.eventQueue,
    failures: rt.failures,
    policy: { maxAttempts: rt.config.QUEUE_MAX_ATTEMPTS },
    log: context,
  });
  context.log(JSON.stringify({ event: "queue", function: context.functionName, outcome: result.outcome, tenantId: result.envelope?.tenantId }));
}

if (getConfig().EVENT_QUEUE_TRANSPORT === "servicebus") {
  app.serviceBusQueue("events-process", { queueName: EVENTS_QUEUE, connection: EVENT_SERVICE_BUS_CONNECTION, handler });
} else {
  app.storageQueue("events-process", { queueName: EVENTS_QUEUE, connection: EVENT_QUEUE_STORAGE_CONNECTION, handler });
}
