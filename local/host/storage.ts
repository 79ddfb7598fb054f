/** Storage-queue plumbing shared by queue triggers and queue output bindings. */
import { QueueServiceClient, type QueueClient } from "@azure/storage-queue";
import { HostConfigError, type QueuesOptions } from "./config.js";

/**
 * The connection string for a binding's `connection` setting, looked up like the WebJobs SDK:
 * `AzureWebJobs<name>` first, then `<name>`; an empty name means `AzureWebJobsStorage`.
 */
export function storageConnectionString(connection: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const name = connection && connection.trim() ? connection.trim() : "Storage";
  const candidates = connection && connection.trim() ? [`AzureWebJobs${name}`, name] : ["AzureWebJobsStorage"];
  for (const candidate of candidates) {
    const value = env[candidate];
    if (value && value.trim()) return value;
  }
  const identityBased = Object.keys(env).some((k) => k.toLowerCase().startsWith(`${(connection || "AzureWebJobsStorage").toLowerCase()}__`));
  throw new HostConfigError(
    identityBased
      ? `Storage account connection '${connection || "AzureWebJobsStorage"}' is identity-based (__serviceUri); the local host needs a connection string`
      : `Storage account connection string '${candidates.at(-1)}' does not exist. Make sure that it is a defined App Setting.`,
  );
}

/** Queue names are lower-cased by the host, then validated with Azure's rules. */
export function normaliseQueueName(name: string): string {
  const lower = name.toLowerCase();
  if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(lower)) {
    throw new HostConfigError(
      `Invalid queue name: ${name}. A queue name must be 3-63 characters, lowercase letters, digits and single dashes, starting and ending with a letter or digit.`,
    );
  }
  return lower;
}

export function encodeMessage(text: string, encoding: QueuesOptions["messageEncoding"]): string {
  return encoding === "base64" ? Buffer.from(text, "utf8").toString("base64") : text;
}

/** Decodes a message body; undefined when it is not valid base64 (the host poisons such messages). */
export function decodeMessage(text: string, encoding: QueuesOptions["messageEncoding"]): string | undefined {
  if (encoding === "none") return text;
  const compact = text.replace(/\s/g, "");
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return undefined;
  return Buffer.from(compact, "base64").toString("utf8");
}

export class StorageQueues {
  readonly #services = new Map<string, QueueServiceClient>();
  readonly #ensured = new Map<string, Promise<void>>();

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  queue(connection: string | undefined, queueName: string): QueueClient {
    const cs = storageConnectionString(connection, this.env);
    let service = this.#services.get(cs);
    if (!service) {
      service = QueueServiceClient.fromConnectionString(cs);
      this.#services.set(cs, service);
    }
    return service.getQueueClient(queueName);
  }

  /** Creates the queue if it is missing (once per queue; retried after a failure). */
  ensure(queue: QueueClient, abortSignal?: AbortSignal): Promise<void> {
    let p = this.#ensured.get(queue.url);
    if (!p) {
      p = queue.createIfNotExists(abortSignal ? { abortSignal } : {}).then(() => undefined);
      this.#ensured.set(queue.url, p);
      p.catch(() => this.#ensured.delete(queue.url));
    }
    return p;
  }
}
