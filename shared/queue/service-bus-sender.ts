import { createHash } from "node:crypto";
import {
  ServiceBusClient,
  isServiceBusError,
  type ServiceBusClientOptions,
  type ServiceBusMessage,
  type ServiceBusSender,
} from "@azure/service-bus";
import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import type { Envelope } from "./envelope.js";
import { delayInSeconds, isNetworkError, transportUnavailable, type QueueSender, type SendOptions } from "./transport.js";

export type ServiceBusConnection =
  | { connectionString: string }
  /** Identity-based (managed identity in Azure); DefaultAzureCredential when no credential is given. */
  | { fullyQualifiedNamespace: string; credential?: TokenCredential };

export interface ServiceBusSenderOptions {
  queueName: string;
  connection: ServiceBusConnection;
  client?: ServiceBusClientOptions;
}

/** The part of the SDK sender this adapter uses (a fake in unit tests). */
export type ServiceBusSenderLike = Pick<ServiceBusSender, "sendMessages" | "close">;

/** Service Bus limits message ids to 128 characters. */
const MAX_MESSAGE_ID_LENGTH = 128;

/**
 * The production transport. The message id drives the queue's duplicate detection: the first
 * attempt uses the envelope id, so a producer re-sending the same event is dropped by Service Bus;
 * each retry attempt gets its own id (`<id>#<attempt>`), because reusing the envelope id would make
 * Service Bus discard the retry as a duplicate of the original within the detection window, while
 * a host re-delivering the same attempt twice still produces only one retry.
 */
export class ServiceBusQueueSender implements QueueSender {
  readonly transport = "service-bus" as const;

  constructor(
    readonly queueName: string,
    private readonly sender: ServiceBusSenderLike,
    /** Closed with the sender when this adapter created it. */
    private readonly ownedClient?: ServiceBusClient,
    private readonly now: () => Date = () => new Date(),
  ) {}

  static create(options: ServiceBusSenderOptions): ServiceBusQueueSender {
    const { connection, queueName } = options;
    const client =
      "connectionString" in connection
        ? new ServiceBusClient(connection.connectionString, options.client)
        : new ServiceBusClient(
            connection.fullyQualifiedNamespace,
            connection.credential ?? new DefaultAzureCredential(),
            options.client,
          );
    return new ServiceBusQueueSender(queueName, client.createSender(queueName), client);
  }

  async send(envelope: Envelope, options?: SendOptions): Promise<void> {
    const message = toServiceBusMessage(envelope, delayInSeconds(options), this.now());
    try {
      await this.sender.sendMessages(message);
    } catch (err) {
      throw mapServiceBusError(err, this.queueName);
    }
  }

  async close(): Promise<void> {
    await this.sender.close();
    await this.ownedClient?.close();
  }
}

export function toServiceBusMessage(envelope: Envelope, delaySeconds: number | undefined, now: Date): ServiceBusMessage {
  const message: ServiceBusMessage = {
    messageId: messageIdFor(envelope),
    // Bytes, not a JS object: the SDK would encode an object as an AMQP value, which consumers
    // other than this SDK (the Functions host) do not read as JSON text.
    body: Buffer.from(JSON.stringify(envelope), "utf8"),
    contentType: "application/json",
    subject: envelope.kind,
    applicationProperties: { kind: envelope.kind, tenantId: envelope.tenantId, attempt: envelope.attempt },
  };
  if (delaySeconds !== undefined) message.scheduledEnqueueTimeUtc = new Date(now.getTime() + delaySeconds * 1000);
  return message;
}

export function messageIdFor(envelope: Envelope): string {
  const id = envelope.attempt === 1 ? envelope.id : `${envelope.id}#${envelope.attempt}`;
  return id.length <= MAX_MESSAGE_ID_LENGTH ? id : createHash("sha256").update(id).digest("hex");
}

/** Seconds to wait, per Service Bus error code that means "try again later". */
const TRANSIENT_CODES: Record<string, number> = {
  ServiceBusy: 10, // documented: wait about 10 s after a ServerBusy
  ServiceTimeout: 5,
  ServiceCommunicationProblem: 5,
  QuotaExceeded: 60, // queue full: consumers need time to drain it
};

export function mapServiceBusError(err: unknown, queueName: string): unknown {
  const what = `Service Bus queue "${queueName}"`;
  if (isServiceBusError(err)) {
    const retryAfter = TRANSIENT_CODES[err.code];
    return retryAfter === undefined ? err : transportUnavailable(what, err, retryAfter);
  }
  return isNetworkError(err) ? transportUnavailable(what, err) : err;
}
