import type { Container, JSONObject, OperationInput, SqlParameter } from "@azure/cosmos";
import { AppError } from "../errors/app-error.js";
import { createItem, deleteItem, mapCosmosError, queryAll, queryPage, readItem, replaceIfMatch, upsert, type Page, type Stored } from "../storage/repository.js";
import {
  directoryPartition, environmentPartition, type AccessModePin, type DirectoryState, type DriftDocument, type EmailLock, type EnvState, type FailedAction,
  type RunDocument, type StagedMemberChange, type StagedUser,
} from "./documents.js";
import { takeLease } from "../storage/lease.js";
import { meter } from "./metrics.js";
import { newEnvState } from "./runs.js";
import type { DirectoryUser } from "./model.js";
import type { PlannedAction } from "./decide.js";

/** A Cosmos transactional batch holds at most 100 operations and 2 MB. */
const BATCH_OPERATIONS = 100;
const BATCH_BYTES = 1_800_000;

export type StagingDocument =
  | { id: string; type: "staging"; partitionKey: string; cycle: number; seq: number; kind: "users"; users: StagedUser[] }
  | { id: string; type: "staging"; partitionKey: string; cycle: number; seq: number; kind: "groups"; changes: StagedMemberChange[] };

export type Versioned<T> = { doc: T; etag: string };

/** A snapshot bucket: its users, and memberships reported for users of the bucket not seen yet (user id -> groups). */
export interface BucketDocument {
  bucket: number;
  users: DirectoryUser[];
  pending?: Record<string, string[]>;
}

/**
 * Every Cosmos request of the sync goes through here (one place to see them, count them and
 * time them for the benchmark). Two containers: `sync` for the small state documents the sync
 * queries (directory and environment states, runs, drift), and `sync-chunks` for the large
 * chunk documents (snapshot buckets, staged delta pages, the journal, plan chunks), which are
 * only ever read, written and deleted by id - never scanned by a query.
 */
export class SyncStore {
  constructor(readonly container: Container, readonly chunks: Container) {}

  private time<T>(fn: () => Promise<T>): Promise<T> {
    return meter.time("cosmos", fn);
  }

  /** Every item of a query, one counted request per page. */
  private async queryAll<T>(query: string, parameters: SqlParameter[], partitionKey: string): Promise<Stored<T>[]> {
    const out: Stored<T>[] = [];
    let token: string | null = null;
    do {
      const page: Page<Stored<T>> = await this.time(() =>
        queryPage<Stored<T>>(this.container, { query, parameters }, { limit: 1000, continuationToken: token, partitionKey, maxRoundTrips: 1 }),
      );
      out.push(...page.items);
      token = page.continuationToken;
    } while (token);
    return out;
  }

  // ---------- directory partition ----------

  /** The directory state and every environment state of a tenant, in one query. */
  async loadDirectory(tenantId: string): Promise<{ state: Versioned<DirectoryState> | undefined; environments: Map<string, Versioned<EnvState>> }> {
    const pk = directoryPartition(tenantId);
    const items = await this.queryAll<DirectoryState | EnvState>(
      "SELECT * FROM c WHERE c.partitionKey = @pk AND (c.type = 'directory-state' OR c.type = 'env-state')",
      [{ name: "@pk", value: pk }],
      pk,
    );
    let state: Versioned<DirectoryState> | undefined;
    const environments = new Map<string, Versioned<EnvState>>();
    for (const item of items) {
      if (item.type === "directory-state") state = { doc: item, etag: item._etag };
      else environments.set(item.environmentId, { doc: item, etag: item._etag });
    }
    return { state, environments };
  }

  async readDirectoryState(tenantId: string): Promise<Versioned<DirectoryState> | undefined> {
    const item = await this.time(() => readItem<DirectoryState>(this.container, "directory-state", directoryPartition(tenantId)));
    return item && { doc: item, etag: item._etag };
  }

  async readEnvState(tenantId: string, environmentId: string): Promise<Versioned<EnvState> | undefined> {
    const item = await this.time(() => readItem<EnvState>(this.container, `env|${environmentId}`, directoryPartition(tenantId)));
    return item && { doc: item, etag: item._etag };
  }

  /** Creates (etag undefined) or replaces with If-Match; a lost race is `preconditionFailed` (or `conflict` on create). */
  async save<T extends { id: string }>(doc: T, etag: string | undefined): Promise<string> {
    const stored = await this.time(() => (etag === undefined ? createItem(this.container, doc) : replaceIfMatch(this.container, doc, etag)));
    return stored._etag;
  }

  /**
   * An ended run frees its environment and becomes its last run; `update` adds what the run changed
   * (cursor, counts). Read, change, save with the ETag - again when another writer came first.
   * `onlyIfActive`: leave the state alone unless this run is the environment's active one.
   */
  async releaseEnvironment(run: RunDocument, options: { onlyIfActive?: boolean; update?: (doc: EnvState) => void } = {}): Promise<void> {
    await this.updateEnvState(run.tenantId, run.environmentId, (current) => {
      if (options.onlyIfActive && current.activeRunId !== run.runId) return undefined;
      const doc = { ...current };
      if (doc.activeRunId === run.runId) doc.activeRunId = null;
      doc.lastRun = { runId: run.runId, state: run.state, finishedAt: run.finishedAt, counts: run.counts };
      options.update?.(doc);
      return doc;
    });
  }

  /**
   * Read an environment's state, change it, save it with the ETag - again (up to 5 times) when
   * another writer came first. `change` answers the new state, or undefined to leave it as it is;
   * nothing happens when the environment has no state yet.
   */
  private async updateEnvState(tenantId: string, environmentId: string, change: (doc: EnvState) => EnvState | undefined): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const es = await this.readEnvState(tenantId, environmentId);
      const next = es && change(es.doc);
      if (!es || !next) return;
      try {
        await this.save(next, es.etag);
        return;
      } catch (err) {
        if (!(err instanceof AppError && err.kind === "preconditionFailed")) throw err;
      }
    }
  }

  /**
   * Names `runId` the environment's active run, from its state as read (`existing`). Others write
   * that state too (an on-demand change's count, a failed-action note): after such a write it is
   * read again and the claim retried, as long as no other run holds the environment (`replaceable`:
   * a run known to have ended, which may be replaced). Otherwise: the run that holds it.
   */
  async claimEnvironment(
    tenantId: string, environmentId: string, runId: string, existing: Versioned<EnvState> | undefined, replaceable: string | null = null,
  ): Promise<{ claimed: true } | { claimed: false; activeRunId: string | null }> {
    let current = existing;
    for (let attempt = 0; attempt < 5; attempt++) {
      const doc = current?.doc ?? newEnvState(tenantId, environmentId);
      if (doc.activeRunId && doc.activeRunId !== replaceable) return { claimed: false, activeRunId: doc.activeRunId };
      try {
        await this.save({ ...doc, activeRunId: runId }, current?.etag);
        return { claimed: true };
      } catch (err) {
        if (!(err instanceof AppError && (err.kind === "preconditionFailed" || err.kind === "conflict"))) throw err;
      }
      current = await this.readEnvState(tenantId, environmentId);
    }
    return { claimed: false, activeRunId: current?.doc.activeRunId ?? null };
  }

  /**
   * D13: a user enabled (+1) or disabled (-1) outside a run (an on-demand add, a refresh): the
   * environment's count of enabled users, which incremental runs' mass-disable guard judges against,
   * follows. Nothing while no run has counted them yet (the first run is full and counts the records).
   */
  async adjustEnabledUsers(tenantId: string, environmentId: string, delta: number): Promise<void> {
    await this.updateEnvState(tenantId, environmentId, (doc) =>
      doc.enabledUsers === null || doc.enabledUsers === undefined ? undefined : { ...doc, enabledUsers: Math.max(0, doc.enabledUsers + delta) },
    );
  }

  /**
   * A failed-action mark written outside a run (an on-demand add's roles, D14): the environment's
   * next cycle starts a run for it even without a directory change. No state yet: the first run is
   * a full one and reads every mark.
   */
  async noteFailedActionOutsideRun(tenantId: string, environmentId: string): Promise<void> {
    await this.updateEnvState(tenantId, environmentId, (doc) => ((doc.failedUsers ?? 0) > 0 ? undefined : { ...doc, failedUsers: 1 }));
  }

  /** The plan chunks of a run that ended. */
  async deletePlan(run: RunDocument): Promise<void> {
    if (!run.plan?.chunks) return;
    await this.deleteChunks(environmentPartition(run.tenantId, run.environmentId), Array.from({ length: run.plan.chunks }, (_, i) => `plan|${run.runId}|${i}`));
  }

  async writeStaging(doc: StagingDocument): Promise<void> {
    await this.time(() => upsert(this.chunks, doc));
  }

  /** Point reads of chunk documents by id (a few at a time); missing ones are skipped. */
  private async readChunks<T>(partitionKey: string, ids: readonly string[]): Promise<Stored<T>[]> {
    const out: Stored<T>[] = [];
    for (let i = 0; i < ids.length; i += 8) {
      const found = await Promise.all(ids.slice(i, i + 8).map((id) => this.time(() => readItem<T>(this.chunks, id, partitionKey))));
      for (const f of found) if (f) out.push(f);
    }
    return out;
  }

  async readStaging(tenantId: string, cycle: number, count: number): Promise<StagingDocument[]> {
    const ids = Array.from({ length: count }, (_, seq) => `staging|${cycle}|${seq}`);
    return (await this.readChunks<StagingDocument>(directoryPartition(tenantId), ids)).sort((a, b) => a.seq - b.seq);
  }

  /** Users of the snapshot, by bucket; `buckets` undefined = every bucket. */
  async readBuckets(tenantId: string, bucketCount: number, buckets?: readonly number[]): Promise<Map<number, DirectoryUser[]>> {
    const out = new Map<number, DirectoryUser[]>();
    for (const item of await this.readBucketDocuments(tenantId, bucketCount, buckets)) out.set(item.bucket, item.users);
    return out;
  }

  /**
   * The snapshot's bucket documents (users and pending memberships). Every bucket of a bucket count
   * is written before the count is saved, and removed only after another count replaced it: a
   * missing bucket means the count was read just before it changed, so the read fails (transient;
   * a retry reads the directory state again) rather than answer with users missing.
   */
  async readBucketDocuments(tenantId: string, bucketCount: number, buckets?: readonly number[]): Promise<BucketDocument[]> {
    const wanted = buckets ?? Array.from({ length: bucketCount }, (_, b) => b);
    const items = await this.readChunks<BucketDocument>(directoryPartition(tenantId), wanted.map((b) => bucketId(bucketCount, b)));
    const found = new Set(items.map((i) => i.bucket));
    if (wanted.some((b) => !found.has(b))) {
      throw new AppError("unavailable", "The directory snapshot changed while it was read (its bucket count moved on).", { retryAfterSeconds: 5 });
    }
    return items;
  }

  /** Writes whole buckets; `pending` holds the pending memberships of those of them that have any. */
  async writeBuckets(tenantId: string, bucketCount: number, buckets: Map<number, DirectoryUser[]>, pending?: Map<number, Record<string, string[]>>): Promise<void> {
    const pk = directoryPartition(tenantId);
    await this.batchUpsert(this.chunks, pk, [...buckets].map(([bucket, users]) => {
      const waiting = pending?.get(bucket);
      return { id: bucketId(bucketCount, bucket), type: "bucket", partitionKey: pk, bucketCount, bucket, users, ...(waiting && { pending: waiting }) };
    }));
  }

  async writeJournal(tenantId: string, cycle: number, chunks: DirectoryUser[][]): Promise<void> {
    const pk = directoryPartition(tenantId);
    await this.batchUpsert(this.chunks, pk, chunks.map((users, seq) => ({ id: `journal|${cycle}|${seq}`, type: "journal", partitionKey: pk, cycle, seq, users })));
  }

  /** Changed users of the given cycles, oldest first (a later change of a user replaces an earlier one). */
  async readJournal(tenantId: string, journal: Record<string, number>, fromExclusive: number, toInclusive: number): Promise<Map<string, DirectoryUser>> {
    const ids = Object.entries(journal)
      .filter(([c]) => Number(c) > fromExclusive && Number(c) <= toInclusive)
      .flatMap(([c, n]) => Array.from({ length: n }, (_, seq) => `journal|${c}|${seq}`));
    const items = await this.readChunks<{ cycle: number; seq: number; users: DirectoryUser[] }>(directoryPartition(tenantId), ids);
    items.sort((a, b) => a.cycle - b.cycle || a.seq - b.seq);
    const out = new Map<string, DirectoryUser>();
    for (const item of items) for (const u of item.users) out.set(u.id, u);
    return out;
  }

  /** Deletes state documents of one partition by id, a few at a time (an id already gone is fine). */
  async deleteMany(partitionKey: string, ids: readonly string[]): Promise<void> {
    await this.deleteFrom(this.container, partitionKey, ids);
  }

  /** Deletes chunk documents (staging, journal, old buckets, plan chunks) by id. */
  async deleteChunks(partitionKey: string, ids: readonly string[]): Promise<void> {
    await this.deleteFrom(this.chunks, partitionKey, ids);
  }

  private async deleteFrom(container: Container, partitionKey: string, ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 8) {
      await Promise.all(ids.slice(i, i + 8).map((id) => this.time(() => deleteItem(container, id, partitionKey))));
    }
  }

  /** Upserts in transactional batches (same partition), each under Cosmos's operation and size limits. */
  private async batchUpsert(container: Container, partitionKey: string, docs: JSONObject[]): Promise<void> {
    let ops: OperationInput[] = [];
    let bytes = 0;
    const flush = async () => {
      if (!ops.length) return;
      const batch = ops;
      ops = [];
      bytes = 0;
      try {
        const response = await this.time(() => container.items.batch(batch, partitionKey));
        const failed = response.result?.find((r) => r.statusCode >= 400);
        if (failed) throw new AppError("unavailable", `A Cosmos batch write failed (${failed.statusCode}).`, { retryAfterSeconds: 5 });
      } catch (err) {
        throw mapCosmosError(err);
      }
    };
    for (const doc of docs) {
      const size = estimatedSize(doc);
      if (ops.length >= BATCH_OPERATIONS || (ops.length > 0 && bytes + size > BATCH_BYTES)) await flush();
      ops.push({ operationType: "Upsert", partitionKey, resourceBody: doc });
      bytes += size;
    }
    await flush();
  }

  /** Tenants with a run in progress (the timer resumes them even where no environment syncs on schedule). */
  async tenantsWithActiveRuns(): Promise<string[]> {
    const items = await this.time(() =>
      queryAll<{ tenantId: string }>(this.container, { query: "SELECT c.tenantId FROM c WHERE c.type = 'env-state' AND IS_STRING(c.activeRunId)" }, { maxItems: 100_000 }),
    );
    return [...new Set(items.map((i) => i.tenantId))];
  }

  // ---------- environment partition ----------

  async readRun(tenantId: string, environmentId: string, runId: string): Promise<Versioned<RunDocument> | undefined> {
    const item = await this.time(() => readItem<RunDocument>(this.container, `run|${runId}`, environmentPartition(tenantId, environmentId)));
    return item && { doc: item, etag: item._etag };
  }

  async listRuns(tenantId: string, environmentId: string, page: { limit: number; continuationToken?: string | null }): Promise<Page<RunDocument>> {
    const pk = environmentPartition(tenantId, environmentId);
    return this.time(() =>
      queryPage<RunDocument>(
        this.container,
        { query: "SELECT * FROM c WHERE c.partitionKey = @pk AND c.type = 'run' ORDER BY c.createdAt DESC", parameters: [{ name: "@pk", value: pk }] },
        { ...page, partitionKey: pk },
      ),
    );
  }

  async writePlan(tenantId: string, environmentId: string, runId: string, chunks: PlannedAction[][]): Promise<void> {
    const pk = environmentPartition(tenantId, environmentId);
    await this.batchUpsert(this.chunks, pk, chunks.map((actions, seq) => ({ id: `plan|${runId}|${seq}`, type: "plan", partitionKey: pk, runId, seq, actions })));
  }

  async readPlanChunk(tenantId: string, environmentId: string, runId: string, seq: number): Promise<PlannedAction[]> {
    const item = await this.time(() => readItem<{ actions: PlannedAction[] }>(this.chunks, `plan|${runId}|${seq}`, environmentPartition(tenantId, environmentId)));
    if (!item) throw new AppError("internal", `The plan chunk ${seq} of run ${runId} is missing.`);
    return item.actions;
  }

  /** Drift records, D6 locks, D8 access-mode pins and failed-action marks of an environment; only those of `userIds` when given. */
  async readMarks(
    tenantId: string, environmentId: string, userIds?: readonly string[],
  ): Promise<{ drift: Map<string, DriftDocument>; locks: Set<string>; pins: Map<string, AccessModePin>; failed: Map<string, FailedAction> }> {
    const pk = environmentPartition(tenantId, environmentId);
    const drift = new Map<string, DriftDocument>();
    const locks = new Set<string>();
    const pins = new Map<string, AccessModePin>();
    const failed = new Map<string, FailedAction>();
    if (userIds && userIds.length === 0) return { drift, locks, pins, failed };
    const items = await this.queryAll<DriftDocument | EmailLock | AccessModePin | FailedAction>(
      `SELECT * FROM c WHERE c.partitionKey = @pk AND (c.type = 'drift' OR c.type = 'email-lock' OR c.type = 'access-mode-pin' OR c.type = 'failed-action')${
        userIds ? " AND ARRAY_CONTAINS(@ids, c.userId)" : ""
      }`,
      [{ name: "@pk", value: pk }, ...(userIds ? [{ name: "@ids", value: [...userIds] }] : [])],
      pk,
    );
    for (const item of items) {
      if (item.type === "drift") drift.set(item.userId, item);
      else if (item.type === "access-mode-pin") pins.set(item.userId, item);
      else if (item.type === "failed-action") failed.set(item.userId, item);
      else locks.add(item.userId);
    }
    return { drift, locks, pins, failed };
  }

  /**
   * What an incremental run looks at besides the directory's changes, in one query: the failed-action
   * marks (retried) and the users with drift (whose record is read again: the platform may have
   * done what it refused us meanwhile, and then the drift goes).
   */
  async readRechecked(tenantId: string, environmentId: string): Promise<{ failed: Map<string, FailedAction>; drifting: Set<string> }> {
    const pk = environmentPartition(tenantId, environmentId);
    const items = await this.queryAll<FailedAction | { type: "drift"; userId: string }>(
      "SELECT * FROM c WHERE c.partitionKey = @pk AND (c.type = 'failed-action' OR c.type = 'drift')",
      [{ name: "@pk", value: pk }],
      pk,
    );
    const failed = new Map<string, FailedAction>();
    const drifting = new Set<string>();
    for (const item of items) {
      if (item.type === "drift") drifting.add(item.userId);
      else failed.set(item.userId, item);
    }
    return { failed, drifting };
  }

  /** How many failed-action marks an environment has. */
  async countFailedActions(tenantId: string, environmentId: string): Promise<number> {
    const pk = environmentPartition(tenantId, environmentId);
    return (await this.queryAll<{ id: string }>("SELECT c.id FROM c WHERE c.partitionKey = @pk AND c.type = 'failed-action'", [{ name: "@pk", value: pk }], pk)).length;
  }

  /**
   * D7: one creation of an application user per environment and application id at a time (the
   * check for an existing one and the create are two Dataverse requests). Returns the release, or
   * null while another creation holds it; a crashed holder's guard expires after `holdMs`.
   */
  async guardApplicationUserCreation(tenantId: string, environmentId: string, applicationId: string, holdMs = 60_000): Promise<(() => Promise<void>) | null> {
    const partitionKey = environmentPartition(tenantId, environmentId);
    const doc = { id: `app-user-create|${applicationId.toLowerCase()}`, type: "app-user-create", tenantId, partitionKey, until: new Date(Date.now() + holdMs).toISOString() };
    return takeLease(this.container, doc, partitionKey, (request) => this.time(request));
  }

  async upsertMarks(partitionKey: string, docs: (DriftDocument | EmailLock | AccessModePin | FailedAction)[]): Promise<void> {
    await this.batchUpsert(this.container, partitionKey, docs);
  }

  async listDrift(tenantId: string, environmentId: string, userIds: readonly string[]): Promise<Map<string, DriftDocument>> {
    return (await this.readMarks(tenantId, environmentId, userIds)).drift;
  }
}

/**
 * A document's size for batching, without serialising it: chunk documents hold lists of users or
 * actions (a generous bound per entry), the rest are small.
 */
function estimatedSize(doc: JSONObject): number {
  const list = (doc.users ?? doc.actions) as unknown[] | undefined;
  const pending = doc.pending ? Object.keys(doc.pending).length * 256 : 0;
  return Array.isArray(list) ? 1024 + list.length * 1024 + pending : 4096;
}

export function bucketId(bucketCount: number, bucket: number): string {
  return `bucket|${bucketCount}|${bucket}`;
}
