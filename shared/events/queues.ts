/** The event queue (Storage queue locally, Service Bus by configuration); poison: `<name>-poison`. */
export const EVENTS_QUEUE = "events";
/** App-setting name prefix of the event queue's storage connection (`EventQueueStorage`, `EventQueueStorage__queueServiceUri`). */
export const EVENT_QUEUE_STORAGE_CONNECTION = "EventQueueStorage";
/** App-setting name prefix of the Service Bus connection (`EventServiceBus__fullyQualifiedNamespace`). */
export const EVENT_SERVICE_BUS_CONNECTION = "EventServiceBus";
/**
 * The sync's job queue (D1): directory cycles and environment runs, in chunks that each hold a
 * message for at most SYNC_CHUNK_SECONDS. Same connections as the event queue; its own queue so
 * long sync chunks never hold up sign-in events.
 */
export const SYNC_JOBS_QUEUE = "sync-jobs";
