import { app, type InvocationContext } from "@azure/functions";
import { getConfig } from "../shared/config/config.js";
import { dispatchEnvelope } from "../shared/events/dispatch.js";
import { EVENT_QUEUE_STORAGE_CONNECTION, EVENT_SERVICE_BUS_CONNECTION, SYNC_JOBS_QUEUE } from "../shared/events/queues.js";
import { processMessage } from "../shared/queue/transient.js";
import { getRuntime } from "../shared/runtime.js";
import { registerSyncHandlers } from "../shared/sync/handlers.js";

registerSyncHandlers();

/** Sync jobs (directory cycles, environment runs) in chunks; transient failures are re-enqueued with a delay. */
export async function handler(message: unknown, context: InvocationContext): Promise<void> {
  const rt = await getRuntime();
  const result = await processMessage(message, (envelope) => dispatchEnvelope(envelope, context), {
    sender: rt.syncQueue,
    failures: rt.failures,
    policy: { maxAttempts: rt.config.QUEUE_MAX_ATTEMPTS },
    log: context,
  });
  context.log(JSON.stringify({ event: "queue", function: context.functionName, outcome: result.outcome, tenantId: result.envelope?.tenantId }));
}

if (getConfig().EVENT_QUEUE_TRANSPORT === "servicebus") {
  app.serviceBusQueue("sync-jobs-process", { queueName: SYNC_JOBS_QUEUE, connection: EVENT_SERVICE_BUS_CONNECTION, handler });
} else {
  app.storageQueue("sync-jobs-process", { queueName: SYNC_JOBS_QUEUE, connection: EVENT_QUEUE_STORAGE_CONNECTION, handler });
}
