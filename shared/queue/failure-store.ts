import { createHash } from "node:crypto";
import type { Container } from "@azure/cosmos";
import { z } from "zod";
import { AppError } from "../errors/app-error.js";
import { monthPartition } from "../storage/containers.js";
import { createItem, queryAll, queryPage, readItem, type Page, type Stored } from "../storage/repository.js";
import { envelopeSchema } from "./envelope.js";

/** Tenant recorded for a message whose tenant cannot be read. */
export const UNKNOWN_TENANT = "unknown";
/** Raw content kept in a record is cut to this many characters (a Cosmos item holds at most 2 MB). */
export const MAX_RAW_CHARS = 64 * 1024;

/** A queue message that could not be processed: kept with its reason (A11), never dropped. */
export const failureRecordSchema = z.object({
  id: z.string(),
  type: z.literal("queue-message"),
  tenantId: z.string(),
  /** `tenantId|yyyymm` of firstEnqueuedAt (or of failedAt when the message had no readable envelope). */
  partitionKey: z.string(),
  kind: z.string(),
  /** The envelope as last attempted, when the message was a valid envelope. */
  envelope: envelopeSchema.optional(),
  /** The message as received, when it was not a valid envelope (cut to MAX_RAW_CHARS). */
  raw: z.string().optional(),
  rawTruncated: z.boolean().optional(),
  reason: z.string(),
  attempts: z.number().int().min(0),
  firstEnqueuedAt: z.string().optional(),
  failedAt: z.string(),
  transport: z.string(),
  queue: z.string(),
});

export type FailureRecord = z.infer<typeof failureRecordSchema>;

export type NewFailure = {
  reason: string;
  source: { transport: string; queue: string };
} & (
  | { envelope: z.infer<typeof envelopeSchema> }
  | { raw: string; /** Best-effort tenant read from the malformed message. */ tenantId?: string }
);

export interface FailureStore {
  /**
   * Records a failure once: recording the same message again (a re-delivery) returns the record
   * already stored and changes nothing.
   */
  record(failure: NewFailure): Promise<FailureRecord>;
  /** With the partition key (from the record) this is a point read; without, a cross-partition look-up. */
  get(id: string, partitionKey?: string): Promise<FailureRecord | undefined>;
  /** A tenant's failures, newest first. */
  list(tenantId: string, page: { limit: number; continuationToken?: string | null }): Promise<Page<FailureRecord>>;
}

/**
 * Deterministic id, so a re-delivered message maps to the same document: the envelope's kind and
 * id, or a hash of the raw content.
 */
export function failureIdFor(failure: NewFailure): string {
  if ("envelope" in failure) return `${failure.envelope.kind}:${failure.envelope.id}`;
  return `raw:${createHash("sha256").update(failure.raw).digest("hex")}`;
}

export function toFailureRecord(failure: NewFailure, failedAt: Date): FailureRecord {
  const common = {
    id: failureIdFor(failure),
    type: "queue-message" as const,
    reason: failure.reason,
    failedAt: failedAt.toISOString(),
    transport: failure.source.transport,
    queue: failure.source.queue,
  };
  if ("envelope" in failure) {
    const { envelope } = failure;
    return {
      ...common,
      tenantId: envelope.tenantId,
      partitionKey: monthPartition(envelope.tenantId, envelope.firstEnqueuedAt),
      kind: envelope.kind,
      envelope,
      attempts: envelope.attempt,
      firstEnqueuedAt: envelope.firstEnqueuedAt,
    };
  }
  const tenantId = failure.tenantId ?? UNKNOWN_TENANT;
  const truncated = failure.raw.length > MAX_RAW_CHARS;
  return {
    ...common,
    tenantId,
    // A malformed message has no trustworthy date of its own: a re-delivery in another month
    // would make a second record (accepted: rare, and nothing is lost).
    partitionKey: monthPartition(tenantId, failedAt),
    kind: "unknown",
    raw: truncated ? failure.raw.slice(0, MAX_RAW_CHARS) : failure.raw,
    ...(truncated && { rawTruncated: true }),
    attempts: 1,
  };
}

/** FailureStore over the `failures` container. */
export class CosmosFailureStore implements FailureStore {
  constructor(
    private readonly container: Container,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async record(failure: NewFailure): Promise<FailureRecord> {
    const record = toFailureRecord(failure, this.now());
    try {
      return strip(await createItem(this.container, record));
    } catch (err) {
      if (!(err instanceof AppError && err.kind === "conflict")) throw err;
      const existing = await this.get(record.id, record.partitionKey);
      if (!existing) throw err; // deleted in between: let the caller's retry record it again
      return existing;
    }
  }

  async get(id: string, partitionKey?: string): Promise<FailureRecord | undefined> {
    if (partitionKey !== undefined) {
      const item = await readItem<FailureRecord>(this.container, id, partitionKey);
      return item && strip(item);
    }
    // Ids are unique per partition only: a raw message re-delivered in another month has two.
    const items = await queryAll<Stored<FailureRecord>>(
      this.container,
      { query: "SELECT * FROM c WHERE c.id = @id ORDER BY c.failedAt DESC", parameters: [{ name: "@id", value: id }] },
      { maxItems: 100 },
    );
    const newest = items[0];
    return newest && strip(newest);
  }

  async list(
    tenantId: string,
    page: { limit: number; continuationToken?: string | null },
  ): Promise<Page<FailureRecord>> {
    // Spans the tenant's month partitions (a fan-out query): failures are few per tenant.
    const result = await queryPage<Stored<FailureRecord>>(
      this.container,
      {
        query: "SELECT * FROM c WHERE c.tenantId = @tenantId AND c.type = @type ORDER BY c.failedAt DESC",
        parameters: [
          { name: "@tenantId", value: tenantId },
          { name: "@type", value: "queue-message" },
        ],
      },
      page,
    );
    return { items: result.items.map(strip), continuationToken: result.continuationToken };
  }
}

/** The record without Cosmos system properties, checked against the schema. */
function strip(item: FailureRecord): FailureRecord {
  return failureRecordSchema.parse(item);
}
