/**
 * The single declaration of the Cosmos DB containers. Infra (Bicep) mirrors this list and a test
 * compares the two; local/test bootstrap creates exactly these. To add a container, append an
 * entry here (and to infra): its name joins `ContainerName` automatically.
 */
export interface ContainerDeclaration {
  readonly name: string;
  /** Single-path partition key, e.g. "/tenantId". */
  readonly partitionKeyPath: `/${string}`;
  readonly description: string;
  /**
   * Container default TTL (-1: on, but only items with their own `ttl` expire). Note: the local Cosmos-compatible server accepts TTL but never
   * expires items, so nothing may rely on expiry alone to remove data.
   */
  readonly defaultTtlSeconds?: number;
}

export const CONTAINERS = [
  {
    name: "tenants",
    partitionKeyPath: "/id",
    description: "Tenant registry: one document per onboarded tenant (id = Entra tenant id).",
  },
  {
    name: "settings",
    partitionKeyPath: "/tenantId",
    description: "Per-tenant settings documents (auto-claim feature switch, pause switch, ...), updated with If-Match.",
  },
  {
    name: "audit",
    partitionKeyPath: "/partitionKey",
    description:
      "Append-only audit records, hash-chained per tenant; synthetic partition key `tenantId|seqN` from the record's sequence number " +
      "(see auditPartition: 100,000 records per partition); each such partition also holds the head of the records written in it " +
      "(`tenantId|head`: the head of a chain begun before heads moved with their records).",
  },
  {
    name: "events",
    partitionKeyPath: "/partitionKey",
    description:
      "Ingested sign-in events and what became of them (E1-E3, A11); synthetic partition key `tenantId|eventId` (eventPartition): " +
      "the event id alone finds an event (idempotency, GET), and no partition grows. Events expire 100 days after their " +
      "last write: the A7 report looks back at most 90 days, and a replay is refused from 24 h on (E1-E3).",
    defaultTtlSeconds: 8_640_000,
  },
  {
    name: "failures",
    partitionKeyPath: "/partitionKey",
    description: "Queue messages that could not be processed, kept with their reason; synthetic partition key `tenantId|yyyymm`.",
  },
  {
    name: "leases",
    partitionKeyPath: "/id",
    description:
      "Leases and locks (e.g. one sync run per environment), taken with conditional writes. TTL on with no default (-1): only a " +
      "license change lock given back with what its change wrote carries a ttl (user-locks.ts, Graph's read lag).",
    defaultTtlSeconds: -1,
  },
  {
    name: "catalog",
    partitionKeyPath: "/tenantId",
    description: "L1 product catalog snapshot per tenant (id \"catalog\"), with its counts; refreshed from Graph at most every 60 s.",
  },
  {
    name: "usage",
    partitionKeyPath: "/tenantId",
    description: "First and last use of each tracked product per user (id `userId|product`), for L13 and L19; bounded by users x products.",
  },
  {
    name: "reports",
    partitionKeyPath: "/tenantId",
    description: "Asynchronous report jobs (L13) and their result parts.",
  },
  {
    name: "policies",
    partitionKeyPath: "/tenantId",
    description: "Auto-claim policies (A2-A6), one app-lock document per app (A12: one policy per app) and the tombstones of deleted policies (their last name, for the report); a few per tenant.",
  },
  {
    name: "autoclaim",
    partitionKeyPath: "/tenantId",
    description:
      "Auto-claim state: one claim per user and app (A10, bounded by users x apps), license reservation counters " +
      "(sharded per product), per-caller daily caps, the sign-in log poller's checkpoint.",
  },
  {
    name: "sync",
    partitionKeyPath: "/partitionKey",
    description:
      "Entra -> Dataverse sync state (D1-D13), small documents the sync queries: per tenant `tenantId|directory` (directory " +
      "state with delta links and lease, one state per environment); per environment `tenantId|env|environmentId` (runs, drift, " +
      "internal-email locks).",
  },
  {
    name: "sync-chunks",
    partitionKeyPath: "/partitionKey",
    description:
      "The sync's large chunk documents, read and written by id only (never queried): the tenant's user snapshot in buckets, " +
      "staged delta pages and the per-cycle change journal (`tenantId|directory`), run plans (`tenantId|env|environmentId`).",
  },
  {
    name: "alerts",
    partitionKeyPath: "/tenantId",
    description:
      "L18 alerts (low stock, licensing failures) with their webhook delivery status, and one dedupe lock per open " +
      "condition (a low-stock lock lives until the product recovers: ttl -1). Alerts expire after 180 days.",
    defaultTtlSeconds: 15_552_000,
  },
] as const satisfies readonly ContainerDeclaration[];

export type ContainerName = (typeof CONTAINERS)[number]["name"];

export const CONTAINER_NAMES: readonly ContainerName[] = CONTAINERS.map((c) => c.name);

export function containerDeclaration(name: ContainerName): ContainerDeclaration {
  const found = CONTAINERS.find((c) => c.name === name);
  if (!found) throw new Error(`Container "${name}" is not declared.`);
  return found;
}

/** Checks a tenant id for use as the first part of a synthetic partition key (`tenantId|...`). */
export function partitionTenant(tenantId: string): string {
  if (!tenantId || tenantId.includes("|")) throw new Error(`Invalid tenant id for a partition key: "${tenantId}".`);
  return tenantId;
}

/**
 * Synthetic partition key `tenantId|yyyymm` (UTC month) for high-volume, time-ordered data, so no
 * logical partition approaches Cosmos DB's 20 GB limit. Derive it from a date that never changes
 * for the item (e.g. when it first happened), so re-writes land in the same partition.
 */
export function monthPartition(tenantId: string, date: Date | string): string {
  partitionTenant(tenantId);
  const d = typeof date === "string" ? new Date(date) : date;
  if (Number.isNaN(d.getTime())) throw new Error(`Invalid date for a partition key: "${String(date)}".`);
  const month = String(d.getUTCMonth() + 1).padStart(2, "0");
  return `${tenantId}|${d.getUTCFullYear()}${month}`;
}
