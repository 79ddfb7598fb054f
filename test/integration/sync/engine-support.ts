import { randomUUID } from "node:crypto";
import type { AppConfig } from "../../../shared/config/config.js";
import type { DataverseClient, BatchOperation, BatchOperationResult } from "../../../shared/clients/dataverse.js";
import type { PowerPlatformClient } from "../../../shared/clients/power-platform.js";
import { AppError } from "../../../shared/errors/app-error.js";
import type { VersionedEnvironmentSettings } from "../../../shared/environments/settings.js";
import type { Envelope } from "../../../shared/queue/envelope.js";
import type { SyncDeps } from "../../../shared/sync/deps.js";
import { runDirectoryJob } from "../../../shared/sync/directory-cycle.js";
import {
  directoryPartition, type ActiveCycle, type DirectoryState, type EnvState, type RunDocument, type StagedMemberChange, type StagedUser,
} from "../../../shared/sync/documents.js";
import { handleSyncJob } from "../../../shared/sync/handlers.js";
import { SYNC_ENVIRONMENT_KIND } from "../../../shared/sync/jobs.js";
import type { DirectoryUser, PlatformEnvironment, SystemUserRow } from "../../../shared/sync/model.js";
import { newEnvState, newRun } from "../../../shared/sync/runs.js";
import { toBuckets } from "../../../shared/sync/snapshot.js";
import { SyncStore } from "../../../shared/sync/store.js";
import { facts, GROUP, rowFor, user } from "../../unit/sync/fixtures.js";

/**
 * The sync engine (directory cycle, environment runs) over the real SyncStore on the local Cosmos
 * server, with Dataverse and the Power Platform admin API faked in memory: a tenant per test, its
 * directory state seeded at a cycle, and the `sync-jobs` queue in the test's hands (it decides when
 * a job sent runs).
 */
export const BUCKETS = 16;

const config = {
  SYNC_TENANT_SIZED_JOBS_PER_PROCESS: 4, SYNC_LEASE_SECONDS: 300, SYNC_CHUNK_SECONDS: 60, SYNC_RECONCILE_HOURS: 24, SYNC_MASS_DISABLE_PERCENT: 100,
  SYNC_DATAVERSE_BATCH_MAX: 100, SYNC_DATAVERSE_BATCH_TARGET_MS: 2000, SYNC_ADDUSER_CONCURRENCY: 4,
} as unknown as AppConfig;

/** Dataverse's systemusers of one environment, in memory; a PATCH can be made to fail once per record. */
export class FakeDataverse {
  readonly apiBase = "https://contoso.crm4.dynamics.com/api/data/v9.2";
  readonly rows = new Map<string, SystemUserRow>();
  /** systemuserid -> the status its next PATCH answers (once). */
  readonly failPatch = new Map<string, number>();

  put(row: SystemUserRow): SystemUserRow {
    this.rows.set(row.systemuserid, structuredClone(row));
    return row;
  }

  byObjectId(userId: string): SystemUserRow | undefined {
    return [...this.rows.values()].find((r) => r.azureactivedirectoryobjectid === userId);
  }

  async *allSystemUsers(): AsyncGenerator<SystemUserRow[]> {
    await Promise.resolve();
    yield [...this.rows.values()].map((r) => structuredClone(r));
  }

  systemUsersByObjectIds(ids: readonly string[]): Promise<SystemUserRow[]> {
    const wanted = new Set(ids.map((i) => i.toLowerCase()));
    return Promise.resolve([...this.rows.values()].filter((r) => wanted.has(r.azureactivedirectoryobjectid ?? "")).map((r) => structuredClone(r)));
  }

  batch(ops: readonly BatchOperation[]): Promise<BatchOperationResult[]> {
    return Promise.resolve(ops.map((op) => {
      const id = /systemusers\(([^)]+)\)/.exec(op.path)?.[1] ?? "";
      const row = this.rows.get(id);
      if (op.method !== "PATCH" || !row) return { status: 404, headers: {}, body: { error: { code: "0x80040217", message: "not found" } } };
      const fail = this.failPatch.get(id);
      if (fail) {
        this.failPatch.delete(id);
        return { status: fail, headers: {}, body: { error: { code: "0x80040216", message: "An unexpected error occurred." } } };
      }
      Object.assign(row, op.body);
      return { status: 204, headers: {}, body: null };
    }));
  }
}

export interface Engine {
  tenantId: string;
  env: PlatformEnvironment;
  store: SyncStore;
  deps: SyncDeps;
  dataverse: FakeDataverse;
  /** addUser of these users fails once (as the client reports a 500: `upstream`). */
  failAddOnce: Set<string>;
  /** Environment jobs sent and not yet run (`onSend` may run them at once instead). */
  sent: Envelope[];
  onSend: ((envelope: Envelope) => Promise<void>) | null;
  seed(input: {
    cycle: number;
    users: DirectoryUser[];
    journal?: Record<number, DirectoryUser[]>;
    cursor: number;
    usersReadAt?: string | null;
    /** Starts cycle `cycle + 1` at its fold phase with these staged pages. */
    next?: ({ kind: "users"; users: StagedUser[] } | { kind: "groups"; changes: StagedMemberChange[] })[];
  }): Promise<void>;
  /** A run of the environment as the fanout makes it (and the environment's state naming it). */
  startRun(input: { full: boolean; fromCycle: number; targetCycle: number }): Promise<{ run: RunDocument; envelope: Envelope }>;
  /** Runs (or resumes) the directory's active cycle, as its queue message would. */
  runCycle(): Promise<string>;
  /** Runs one `sync-jobs` message (an environment job): its outcome, or the error it threw. */
  runJob(envelope: Envelope): Promise<string | AppError>;
  directory(): Promise<DirectoryState>;
  envState(): Promise<EnvState>;
  runs(): Promise<RunDocument[]>;
}

export function engine(database: { container(name: string): unknown }, env: PlatformEnvironment): Engine {
  const tenantId = randomUUID();
  const store = new SyncStore(database.container("sync") as never, database.container("sync-chunks") as never);
  const dataverse = new FakeDataverse();
  const failAddOnce = new Set<string>();
  const platform = {
    addUser: (_environmentId: string, objectId: string) => {
      if (failAddOnce.delete(objectId)) {
        return Promise.reject(new AppError("upstream", "The Power Platform admin API answered 500 InternalServerError when adding a user: try again."));
      }
      if (!dataverse.byObjectId(objectId)) {
        dataverse.put(rowFor(user({ id: objectId }), { createdon: new Date().toISOString() }));
      }
      return Promise.resolve({ ok: true as const });
    },
  } as unknown as PowerPlatformClient;
  const settings: VersionedEnvironmentSettings = {
    value: { syncEnabled: true, massDisableThresholdPercent: 100, defaultSecurityRoleIds: [] }, etag: "s", updatedAt: null, updatedBy: null,
  };
  const e: Engine = {
    tenantId, env, store, dataverse, failAddOnce, sent: [], onSend: null,
    deps: undefined as unknown as SyncDeps,
    async seed(input) {
      const pk = directoryPartition(tenantId);
      await store.writeBuckets(tenantId, BUCKETS, toBuckets(input.users, BUCKETS));
      const journal: Record<string, number> = {};
      for (const [c, users] of Object.entries(input.journal ?? {})) {
        await store.writeJournal(tenantId, Number(c), [users]);
        journal[c] = 1;
      }
      let active: ActiveCycle | null = null;
      if (input.next) {
        const cycle = input.cycle + 1;
        for (const [seq, page] of input.next.entries()) {
          await store.writeStaging({ ...page, id: `staging|${cycle}|${seq}`, type: "staging", partitionKey: pk, cycle, seq });
        }
        active = {
          cycle, step: 1, startedAt: new Date().toISOString(), phase: "fold", usersFull: false, usersNextLink: null, usersDeltaLink: `delta-${cycle}`, groupsFull: false,
          groupStreamIndex: 1, groupNextLink: null, groupRoundFull: false, newGroupStreams: [{ groupIds: [GROUP], deltaLink: `groups-${cycle}` }],
          staged: input.next.length, facts: facts(), environments: [env], trackedGroups: [GROUP], reevaluateAll: false, fullCycle: false, journalDocs: 0, bucketCount: BUCKETS,
        };
      }
      const state: DirectoryState = {
        id: "directory-state", type: "directory-state", tenantId, partitionKey: pk, cycle: input.cycle, usersDeltaLink: "delta", groupStreams: [{ groupIds: [GROUP], deltaLink: "groups" }],
        bucketCount: BUCKETS, facts: facts(), environments: [env], journal, fullCycles: [], journalFloor: 0, lastCycleAt: new Date().toISOString(),
        usersReadAt: input.usersReadAt ?? new Date(Date.now() - 60_000).toISOString(), active, lease: null,
      };
      await store.save(state, undefined);
      await store.save({ ...newEnvState(tenantId, env.id), cursor: input.cursor, lastFullAt: new Date().toISOString() }, undefined);
    },
    async startRun({ full, fromCycle, targetCycle }) {
      const run = newRun({ tenantId, environmentId: env.id, trigger: "schedule", requestedBy: null, now: new Date() });
      Object.assign(run, { environment: env, settings: { defaultSecurityRoleIds: [], massDisableThresholdPercent: 100 }, fromCycle, targetCycle, full });
      await store.save(run, undefined);
      const es = await store.readEnvState(tenantId, env.id);
      if (!es) throw new Error("seed the tenant first");
      await store.save({ ...es.doc, activeRunId: run.runId }, es.etag);
      const envelope = { id: `${run.runId}.1`, kind: SYNC_ENVIRONMENT_KIND, tenantId, attempt: 1, firstEnqueuedAt: new Date().toISOString(), body: { environmentId: env.id, runId: run.runId, step: 1 } } as Envelope;
      return { run, envelope };
    },
    runCycle: async () => {
      const state = await e.directory();
      return runDirectoryJob(e.deps, tenantId, { trigger: "continue", cycle: state.active?.cycle ?? 0, step: state.active?.step ?? 0 }, "directory-worker");
    },
    runJob: async (envelope) => {
      try {
        return await handleSyncJob(e.deps, envelope);
      } catch (err) {
        if (err instanceof AppError) return err;
        throw err;
      }
    },
    directory: async () => {
      const s = await store.readDirectoryState(tenantId);
      if (!s) throw new Error("no directory state");
      return s.doc;
    },
    envState: async () => {
      const s = await store.readEnvState(tenantId, env.id);
      if (!s) throw new Error("no environment state");
      return s.doc;
    },
    runs: async () => (await store.listRuns(tenantId, env.id, { limit: 100 })).items,
  };
  e.deps = {
    config,
    store,
    settings: { all: () => Promise.resolve(new Map([[env.id, settings]])) },
    audit: { append: () => Promise.resolve() },
    queue: {
      send: async (envelope: Envelope) => {
        if (envelope.kind !== SYNC_ENVIRONMENT_KIND) return;
        if (e.onSend) await e.onSend(envelope);
        else e.sent.push(envelope);
      },
    },
    graph: () => {
      throw new Error("these tests read no directory from Graph");
    },
    platform: () => platform,
    dataverse: () => dataverse as unknown as DataverseClient,
    isPaused: () => Promise.resolve(false),
    now: () => new Date(),
  } as unknown as SyncDeps;
  return e;
}
