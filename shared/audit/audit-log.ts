import { createHash, randomUUID } from "node:crypto";
import type { Container, JSONObject } from "@azure/cosmos";
import { Batcher, ItemFailure } from "../concurrency/batcher.js";
import { AppError } from "../errors/app-error.js";
import { partitionTenant } from "../storage/containers.js";
import { createItem, mapCosmosError, queryAll, readItem, replaceIfMatch, transact } from "../storage/repository.js";

/**
 * The audit trail (P9, L16): append-only records, hash-chained per tenant so that an edited,
 * removed or inserted record shows. Each record carries its tenant-wide sequence number, the hash
 * of the previous record and its own hash over its canonical JSON.
 *
 * Records are written in runs: the appends a process is asked for while it writes the previous run
 * are chained in call order and stored in one transactional batch together with the chain head
 * they lead to - records and head, all or none, one request. Record ids are `tenant:seq` in the
 * partition the seq decides (`auditPartition`), so two writers of one seq collide (409) whatever
 * their clocks say; the one that collides catches up and goes again - no gap, no fork. Each records
 * partition keeps the head of the records written in it; the chain head is the one with the
 * highest seq.
 */
export interface AuditEntry {
  actor: { type: "user" | "application" | "system"; id: string; name?: string };
  /** e.g. "tenant.onboard", "license.assign". */
  action: string;
  target?: { type: string; id: string };
  /** "intent" before the change is attempted, "outcome" after (L16); "record" for a one-step write. */
  phase?: "intent" | "outcome" | "record";
  /** For an outcome: the id of its intent record. */
  intentId?: string;
  before?: unknown;
  after?: unknown;
  /** "unknown": a change Microsoft did not confirm (it may have been made). */
  outcome?: "succeeded" | "failed" | "skipped" | "unknown";
  reason?: string;
  /** Extra structured context (policy, environment, event id, ...). */
  context?: Record<string, unknown>;
}

export interface AuditRecord extends AuditEntry {
  id: string;
  type: "audit";
  tenantId: string;
  partitionKey: string;
  seq: number;
  at: string;
  prevHash: string;
  hash: string;
}

interface ChainHead {
  id: "head";
  type: "audit-head";
  tenantId: string;
  partitionKey: string;
  seq: number;
  hash: string;
}

export const GENESIS_HASH = "0".repeat(64);
/** A run's records: at most this many, and about this many bytes (a transactional batch takes 100 operations and 2 MB). */
const MAX_RUN_RECORDS = 50;
const MAX_RUN_BYTES = 1_000_000;
/** Records per logical partition: a few hundred MB at most, far under Cosmos DB's 20 GB. */
const RECORDS_PER_PARTITION = 100_000;

/**
 * The partition of a tenant's record `seq`: `tenantId|seq0` holds records 1-100,000, `seq1` the
 * next 100,000, and so on. It follows from the seq alone (not from a clock), so the same seq is
 * always the same item: two writers of one seq collide even across a month boundary. (Records
 * written before December 2026 sit in month partitions, `tenantId|yyyymm`; readers query across
 * partitions and find both.)
 */
export function auditPartition(tenantId: string, seq: number): string {
  return `${partitionTenant(tenantId)}|seq${Math.floor((seq - 1) / RECORDS_PER_PARTITION)}`;
}

export class AuditLog {
  /**
   * The last head this process wrote, per tenant: saves reading it before every append. When
   * another process appended meanwhile, the create collides on the seq and the head is read again.
   */
  private readonly heads = new Map<string, ChainHead>();
  /**
   * One run in flight per tenant (the chain is a sequence anyway; concurrent runs of one process
   * would only collide on the seq and read the head again); appends arriving meanwhile wait and
   * form the next run.
   */
  private readonly runs: Batcher<AuditEntry, AuditRecord>;

  constructor(
    private readonly container: Container,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.runs = new Batcher((tenantId, entries) => this.appendAll(tenantId, entries), { maxItems: 500, lingerMs: 0, maxInFlight: 1 });
  }

  append(tenantId: string, entry: AuditEntry): Promise<AuditRecord> {
    return this.runs.submit(tenantId, entry);
  }

  /**
   * The entries in call order, in as few runs as their count and size allow. When a run fails, the
   * entries stored by the runs before it keep their records; it and the rest fail with its error.
   */
  private async appendAll(tenantId: string, entries: AuditEntry[]): Promise<(AuditRecord | ItemFailure)[]> {
    const results: (AuditRecord | ItemFailure)[] = [];
    while (results.length < entries.length) {
      try {
        results.push(...(await this.appendRun(tenantId, entries.slice(results.length))));
      } catch (error) {
        while (results.length < entries.length) results.push(new ItemFailure(error));
      }
    }
    return results;
  }

  /** Appends the first of `entries` that fit in one run; returns their records. */
  private async appendRun(tenantId: string, entries: AuditEntry[]): Promise<AuditRecord[]> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const head = this.heads.get(tenantId) ?? (await this.newestHead(tenantId));
      const at = this.now();
      const partitionKey = auditPartition(tenantId, (head?.seq ?? 0) + 1);
      const run: AuditRecord[] = [];
      let bytes = 0;
      for (const entry of entries) {
        const seq = (head?.seq ?? 0) + run.length + 1;
        if (auditPartition(tenantId, seq) !== partitionKey) break; // a batch stays in one partition
        const unsigned = {
          ...stripUndefined(entry),
          id: `${tenantId}:${seq}`,
          type: "audit" as const,
          tenantId,
          partitionKey,
          seq,
          at: at.toISOString(),
          prevHash: run.at(-1)?.hash ?? head?.hash ?? GENESIS_HASH,
          auditId: randomUUID(),
        };
        const canonical = canonicalJson(unsigned);
        if (run.length > 0 && (run.length >= MAX_RUN_RECORDS || bytes + canonical.length > MAX_RUN_BYTES)) break;
        run.push({ ...unsigned, hash: sha256(canonical) });
        bytes += canonical.length;
      }
      const first = run[0] as AuditRecord;
      const next = headAt(run.at(-1) as AuditRecord);
      // The records and the head they lead to, in one transactional batch: both or neither. The
      // head is upserted: the creates alone decide who writes these seqs (a seq taken fails the batch).
      const outcome = await transact(this.container, partitionKey, [
        ...run.map((record) => ({ operationType: "Create" as const, resourceBody: record as unknown as JSONObject })),
        { operationType: "Upsert" as const, resourceBody: next as unknown as JSONObject },
      ]);
      if (outcome.ok) {
        this.heads.set(tenantId, next);
        return run;
      }
      if (outcome.statusCode !== 409) {
        throw mapCosmosError(Object.assign(new Error(`Cosmos DB refused audit record ${run[outcome.index]?.seq ?? "?"} (${outcome.statusCode}).`), { code: outcome.statusCode }));
      }
      // Another writer took a seq of this run: its head came with its records - go on from there.
      // Or records lie past the head (a restore, a crashed writer of an earlier version): catch up.
      const fresh = await this.newestHead(tenantId);
      if (fresh && fresh.seq >= first.seq) {
        this.heads.set(tenantId, fresh);
      } else {
        this.heads.delete(tenantId);
        await this.catchUp(tenantId, first.seq);
      }
    }
    throw new AppError("unavailable", "The audit trail is busy; try again.", { retryAfterSeconds: 1 });
  }

  /**
   * The chain head: the head with the highest seq, wherever it is (each records partition has the
   * head of the records written in it; `tenantId|head` holds the head of a chain begun before the
   * head moved with its records).
   */
  private async newestHead(tenantId: string): Promise<ChainHead | undefined> {
    const [newest] = await queryAll<ChainHead>(
      this.container,
      { query: "SELECT TOP 1 * FROM c WHERE c.tenantId = @t AND c.type = 'audit-head' ORDER BY c.seq DESC", parameters: [{ name: "@t", value: tenantId }] },
      { maxItems: 1 },
    );
    return newest;
  }

  /**
   * `seq` is stored already, perhaps as the first of a run past the head (left by a writer before
   * the head moved with its records, or restored from a backup): move the head to the last record
   * that follows it without a gap, never backwards.
   */
  private async catchUp(tenantId: string, seq: number): Promise<void> {
    const first = await readItem<AuditRecord>(this.container, `${tenantId}:${seq}`, auditPartition(tenantId, seq));
    if (!first) return;
    let last: AuditRecord = first;
    for (let step = 0; step < MAX_RUN_RECORDS; step++) {
      const nextSeq = last.seq + 1;
      const next: AuditRecord | undefined = await readItem<AuditRecord>(this.container, `${tenantId}:${nextSeq}`, auditPartition(tenantId, nextSeq));
      if (!next) break;
      last = next;
    }
    const current = await readItem<ChainHead>(this.container, "head", auditPartition(tenantId, last.seq));
    if (current && current.seq >= last.seq) return;
    await (current ? replaceIfMatch(this.container, headAt(last), current._etag) : createItem(this.container, headAt(last))).catch(ignoreRace);
  }

  /** Every record of the tenant in sequence order (bounded; for verification and small tenants). */
  async records(tenantId: string, maxItems = 100_000): Promise<AuditRecord[]> {
    return queryAll<AuditRecord>(
      this.container,
      { query: "SELECT * FROM c WHERE c.tenantId = @t AND c.type = 'audit' ORDER BY c.seq", parameters: [{ name: "@t", value: tenantId }] },
      { maxItems },
    );
  }

  /** Walks the chain: every seq from 1 present once, each linked to its predecessor and unaltered. */
  async verify(tenantId: string): Promise<ChainVerification> {
    const records = await this.records(tenantId);
    const head = await this.newestHead(tenantId);
    return verifyChain(records, head ? { seq: head.seq, hash: head.hash } : undefined);
  }
}

export interface ChainVerification {
  ok: boolean;
  count: number;
  problems: { seq: number; problem: string }[];
}

export function verifyChain(records: readonly AuditRecord[], head: { seq: number; hash: string } | undefined): ChainVerification {
  const problems: ChainVerification["problems"] = [];
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  for (const r of records) {
    if (r.seq !== expectedSeq) {
      problems.push({ seq: expectedSeq, problem: r.seq > expectedSeq ? `records ${expectedSeq}..${r.seq - 1} are missing` : `seq ${r.seq} appears twice` });
    }
    const { hash, ...unsigned } = withoutSystemProperties(r);
    if (hashOf(unsigned) !== hash) problems.push({ seq: r.seq, problem: "the record was altered (its hash does not match its content)" });
    if (r.prevHash !== prevHash) problems.push({ seq: r.seq, problem: "the link to the previous record is broken" });
    prevHash = hash;
    expectedSeq = r.seq + 1;
  }
  if (head && head.seq > expectedSeq - 1) problems.push({ seq: expectedSeq, problem: `records ${expectedSeq}..${head.seq} are missing at the end` });
  if (head && head.seq === expectedSeq - 1 && head.hash !== prevHash) problems.push({ seq: head.seq, problem: "the last record does not match the chain head" });
  return { ok: problems.length === 0, count: records.length, problems };
}

function withoutSystemProperties(r: AuditRecord): AuditRecord {
  const copy: Record<string, unknown> = { ...r };
  for (const k of Object.keys(copy)) if (k.startsWith("_")) delete copy[k];
  return copy as unknown as AuditRecord;
}

/** The head that points at `record`, kept in the record's partition. */
function headAt(record: AuditRecord): ChainHead {
  return { id: "head", type: "audit-head", tenantId: record.tenantId, partitionKey: record.partitionKey, seq: record.seq, hash: record.hash };
}

function ignoreRace(err: unknown): void {
  if (err instanceof AppError && (err.kind === "conflict" || err.kind === "preconditionFailed")) return;
  throw err;
}

/** SHA-256 over canonical JSON (keys sorted at every level), so storage cannot reorder its way past it. */
export function hashOf(value: unknown): string {
  return sha256(canonicalJson(value));
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

function stripUndefined<T extends object>(o: T): T {
  return JSON.parse(JSON.stringify(o)) as T;
}
