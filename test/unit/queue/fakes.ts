import { toFailureRecord, type FailureRecord, type FailureStore, type NewFailure } from "../../../shared/queue/failure-store.js";
import type { Envelope } from "../../../shared/queue/envelope.js";
import type { QueueSender, SendOptions } from "../../../shared/queue/transport.js";
import type { QueueLogger } from "../../../shared/queue/transient.js";
import type { Page } from "../../../shared/storage/repository.js";

/** In-memory FailureStore with the Cosmos store's identity rules (id + partition key, first write wins). */
export class InMemoryFailureStore implements FailureStore {
  readonly records = new Map<string, FailureRecord>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  record(failure: NewFailure): Promise<FailureRecord> {
    const record = toFailureRecord(failure, this.now());
    const key = `${record.partitionKey}/${record.id}`;
    const existing = this.records.get(key);
    if (existing) return Promise.resolve(existing);
    this.records.set(key, record);
    return Promise.resolve(record);
  }

  get(id: string, partitionKey?: string): Promise<FailureRecord | undefined> {
    const found = [...this.records.values()].find((r) => r.id === id && (partitionKey === undefined || r.partitionKey === partitionKey));
    return Promise.resolve(found);
  }

  list(tenantId: string, page: { limit: number; continuationToken?: string | null }): Promise<Page<FailureRecord>> {
    const all = [...this.records.values()]
      .filter((r) => r.tenantId === tenantId)
      .sort((a, b) => b.failedAt.localeCompare(a.failedAt));
    const start = page.continuationToken ? Number(page.continuationToken) : 0;
    const items = all.slice(start, start + page.limit);
    const next = start + items.length;
    return Promise.resolve({ items, continuationToken: next < all.length ? String(next) : null });
  }
}

/** A QueueSender that remembers what it sent; `failWith` makes the next sends throw. */
export class RecordingSender implements QueueSender {
  readonly transport = "storage-queue" as const;
  readonly sent: { envelope: Envelope; options: SendOptions | undefined }[] = [];
  failWith: Error | undefined = undefined;

  constructor(readonly queueName = "test-queue") {}

  send(envelope: Envelope, options?: SendOptions): Promise<void> {
    if (this.failWith) return Promise.reject(this.failWith);
    this.sent.push({ envelope, options });
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export const silentLogger: QueueLogger = { info: () => {}, warn: () => {}, error: () => {} };
