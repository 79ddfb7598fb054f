/** Output bindings the local host writes after a successful invocation (storage queues). */
import { resolveSettingPlaceholders, type QueuesOptions } from "./config.js";
import type { RegisteredFunction, RpcInvocationResponse } from "./core.js";
import { typedDataToStrings } from "./invoke.js";
import { encodeMessage, normaliseQueueName, type StorageQueues } from "./storage.js";

/** Output binding types the local host does not write (values are dropped, with a warning at start). */
export function unsupportedBindings(fn: RegisteredFunction): string[] {
  return Object.entries(fn.metadata.bindings)
    .filter(([, b]) => {
      const type = (b.type ?? "").toLowerCase();
      if (/trigger$/.test(type)) return false;
      if (b.direction === "out") return type !== "http" && type !== "queue";
      return true; // extra inputs (blob, table, cosmosDB, ...) are not provided
    })
    .map(([name, b]) => `${b.direction === "out" ? "output" : "input"} '${name}' (${b.type ?? "?"})`);
}

export class OutputWriter {
  constructor(
    private readonly storage: StorageQueues,
    private readonly queues: QueuesOptions,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Writes the function's queue outputs; throws when a write fails (the invocation then fails). */
  async write(fn: RegisteredFunction, response: RpcInvocationResponse): Promise<void> {
    for (const [name, binding] of Object.entries(fn.metadata.bindings)) {
      if (binding.direction !== "out" || (binding.type ?? "").toLowerCase() !== "queue") continue;
      const data = name === "$return" ? response.returnValue : response.outputData?.find((o) => o.name === name)?.data;
      const messages = typedDataToStrings(data);
      if (messages.length === 0) continue;
      const queueName = normaliseQueueName(resolveSettingPlaceholders(typeof binding.queueName === "string" ? binding.queueName : "", this.env));
      const queue = this.storage.queue(typeof binding.connection === "string" ? binding.connection : undefined, queueName);
      await this.storage.ensure(queue);
      for (const message of messages) await queue.sendMessage(encodeMessage(message, this.queues.messageEncoding));
    }
  }
}
