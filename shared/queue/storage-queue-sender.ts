import { QueueClient, RestError, type StoragePipelineOptions } from "@azure/storage-queue";
import type { TokenCredential } from "@azure/identity";
import type { Envelope } from "./envelope.js";
import { delayInSeconds, isNetworkError, transportUnavailable, type QueueSender, type SendOptions } from "./transport.js";

export type StorageQueueConnection =
  | { connectionString: string }
  | { queueServiceUri: string; credential: TokenCredential };

export interface StorageQueueSenderOptions {
  queueName: string;
  connection: StorageQueueConnection;
  /** Retry/timeouts of the storage pipeline (e.g. short ones in tests). */
  pipeline?: StoragePipelineOptions;
}

/** Storage queues keep a hidden message for at most 7 days. */
const MAX_VISIBILITY_TIMEOUT_SECONDS = 7 * 24 * 3600;

/**
 * The local/test transport (Azurite) and an option in Azure. The Functions storage-queue trigger
 * decodes message text as base64 by default (host.json `messageEncoding`), so the JSON envelope is
 * sent base64-encoded; delays use the message's initial visibility timeout.
 */
export class StorageQueueSender implements QueueSender {
  readonly transport = "storage-queue" as const;
  readonly queueName: string;

  constructor(private readonly client: QueueClient) {
    this.queueName = client.name;
  }

  static create(options: StorageQueueSenderOptions): StorageQueueSender {
    const { connection, queueName, pipeline } = options;
    const client =
      "connectionString" in connection
        ? new QueueClient(connection.connectionString, queueName, pipeline)
        : new QueueClient(`${connection.queueServiceUri.replace(/\/+$/, "")}/${queueName}`, connection.credential, pipeline);
    return new StorageQueueSender(client);
  }

  /** Creates the queue if missing: local runs and tests only (infra declares queues in Azure). */
  async ensureQueue(): Promise<void> {
    try {
      await this.client.createIfNotExists();
    } catch (err) {
      throw mapStorageQueueError(err, this.queueName);
    }
  }

  async send(envelope: Envelope, options?: SendOptions): Promise<void> {
    const delay = delayInSeconds(options);
    if (delay !== undefined && delay > MAX_VISIBILITY_TIMEOUT_SECONDS) {
      throw new RangeError(`A storage queue cannot delay a message by more than 7 days (asked ${delay} s).`);
    }
    try {
      await this.client.sendMessage(encodeQueueMessage(envelope), delay === undefined ? {} : { visibilityTimeout: delay });
    } catch (err) {
      throw mapStorageQueueError(err, this.queueName);
    }
  }

  close(): Promise<void> {
    return Promise.resolve(); // HTTP client: nothing to release
  }
}

/** Base64 of the JSON envelope: what the Functions storage-queue trigger expects by default. */
export function encodeQueueMessage(envelope: Envelope): string {
  return Buffer.from(JSON.stringify(envelope), "utf8").toString("base64");
}

/** The inverse of encodeQueueMessage (for tests and local tooling reading a queue directly). */
export function decodeQueueMessage(messageText: string): unknown {
  return JSON.parse(Buffer.from(messageText, "base64").toString("utf8"));
}

/**
 * Throttling (503 ServerBusy, 429), any other 5xx (a gateway's 502 or 504 included), 408 and
 * unreachable endpoints -> `unavailable`; the rest (400, 403, 404: a bug or a misconfiguration) unchanged.
 */
export function mapStorageQueueError(err: unknown, queueName: string): unknown {
  const status = err instanceof RestError ? err.statusCode : undefined;
  if ((status !== undefined && (status >= 500 || status === 408 || status === 429)) || isNetworkError(err)) {
    return transportUnavailable(`Storage queue "${queueName}"`, err);
  }
  return err;
}
