import type { StoragePipelineOptions } from "@azure/storage-queue";
import type { ServiceBusClientOptions } from "@azure/service-bus";
import { ServiceBusQueueSender, type ServiceBusConnection } from "./service-bus-sender.js";
import { StorageQueueSender, type StorageQueueConnection } from "./storage-queue-sender.js";
import type { QueueSender } from "./transport.js";

/** Which transport a deployment uses is configuration; whoever parses config builds one of these. */
export type QueueSenderConfig =
  | { transport: "service-bus"; queueName: string; connection: ServiceBusConnection; client?: ServiceBusClientOptions }
  | { transport: "storage-queue"; queueName: string; connection: StorageQueueConnection; pipeline?: StoragePipelineOptions };

export function createQueueSender(config: QueueSenderConfig): QueueSender {
  switch (config.transport) {
    case "service-bus":
      return ServiceBusQueueSender.create(config);
    case "storage-queue":
      return StorageQueueSender.create(config);
  }
}
