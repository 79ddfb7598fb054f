import { AppError } from "../errors/app-error.js";
import type { VersionedEnvironmentSettings } from "../environments/settings.js";
import {
  directoryPartition, FULL_LISTING, type ActiveCycle, type DirectoryState, type EnvState, type RunDocument, type StagedMemberChange,
  type StagedUser,
} from "./documents.js";
import type { SyncDeps } from "./deps.js";
import {
  DeltaGoneError, GROUPS_PER_STREAM, initialGroupsDeltaUrl, initialUsersDeltaUrl, readGroupsDeltaPage, readTenantFacts, readUsersDeltaPage,
} from "./directory-reader.js";
import { environmentPolicy } from "./environment-types.js";
import { meter } from "./metrics.js";
import { enqueueDirectoryJob, enqueueEnvironmentJob, type DirectoryJob } from "./jobs.js";
import type { DirectoryUser, PlatformEnvironment, TenantFacts } from "./model.js";
import { isStalled, newEnvState, newRun, TERMINAL_STATES } from "./runs.js";
import { bucketOf, chooseBucketCount, fold, needsAllBuckets, pendingByBucket, toBuckets, type PendingMemberships } from "./snapshot.js";
import { TENANT_SIZED_WAIT_SECONDS, tenantSizedWork } from "./tenant-sized.js";
import { bucketId, type Versioned } from "./store.js";

/**
 * The tenant's directory cycle (D1, D12): reads users/delta and the security groups' delta once
 * per tenant, shares the result with every environment through the snapshot and a per-cycle
 * change journal, then starts the environments' runs.
 *
 * users -> groups: delta pages are staged in Cosmos (with the nextLink checkpointed after each
 * staged document), so a worker killed anywhere resumes from its last checkpoint: a page is
 * read again at most, never lost, and merging a replayed change changes nothing.
 * fold: the changes are merged into the snapshot in memory and the journal (the changed users)
 * is written and checkpointed before the snapshot is (store), so a crash cannot lose the journal.
 * fanout: the staging is dropped, each environment due gets a run on the `sync-jobs` queue, and
 * the cycle is saved (a run picked up before that waits for it: environment-run.ts).
 */
export type DirectoryJobOutcome = "idle" | "stale" | "busy" | "continued" | "completed";

const STAGE_USERS = 2000;
const STAGE_MEMBERS = 20_000;
const JOURNAL_USERS = 2000;

function emptyState(tenantId: string): DirectoryState {
  return {
    id: "directory-state", type: "directory-state", tenantId, partitionKey: directoryPartition(tenantId), cycle: 0, usersDeltaLink: null,
    groupStreams: [], bucketCount: 0, facts: null, environments: [], journal: {}, fullCycles: [], journalFloor: 0, lastCycleAt: null,
    active: null, lease: null,
  };
}

/** Environments the cycle reads the directory for: with Dataverse, and either synced or with a run asked for. */
export function managedEnvironments(
  environments: readonly PlatformEnvironment[],
  settings: Map<string, VersionedEnvironmentSettings>,
  envStates: Map<string, Versioned<EnvState>>,
): PlatformEnvironment[] {
  return environments.filter((e) => environmentPolicy(e).usersAllowed && (settings.get(e.id)?.value.syncEnabled === true || envStates.get(e.id)?.doc.activeRunId));
}

const symmetricDifference = (a: readonly string[], b: readonly string[]) => {
  const sa = new Set(a);
  const sb = new Set(b);
  return [...a.filter((x) => !sb.has(x)), ...b.filter((x) => !sa.has(x))];
};

/** Users whose eligibility changed with the tenant's facts (admin roles, group owners), and whether everyone's did (licenses table). */
export function factsChanges(prev: TenantFacts | null, next: TenantFacts): { users: string[]; everyone: boolean } {
  if (!prev) return { users: [], everyone: false };
  const everyone = JSON.stringify(prev.skus) !== JSON.stringify(next.skus) || prev.marketing !== next.marketing;
  const users = new Set<string>([
    ...symmetricDifference(prev.admins.global, next.admins.global),
    ...symmetricDifference(prev.admins.powerPlatform, next.admins.powerPlatform),
    ...symmetricDifference(prev.admins.dynamics, next.admins.dynamics),
  ]);
  for (const g of new Set([...Object.keys(prev.owners), ...Object.keys(next.owners)])) {
    for (const u of symmetricDifference(prev.owners[g] ?? [], next.owners[g] ?? [])) users.add(u);
  }
  return { users: [...users], everyone };
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export async function runDirectoryJob(deps: SyncDeps, tenantId: string, job: DirectoryJob, owner: string): Promise<DirectoryJobOutcome> {
  return meter.cpu("directory", () => new DirectoryCycle(deps, tenantId, owner).run(job));
}

class DirectoryCycle {
  private state!: DirectoryState;
  private etag: string | undefined;
  private envStates = new Map<string, Versioned<EnvState>>();
  /** Read when this invocation started the cycle (the fanout reuses them). */
  private settingsRead: Map<string, VersionedEnvironmentSettings> | undefined;
  private readonly deadline: number;

  constructor(private readonly deps: SyncDeps, private readonly tenantId: string, private readonly owner: string) {
    this.deadline = Date.now() + deps.config.SYNC_CHUNK_SECONDS * 1000;
  }

  private get active(): ActiveCycle {
    if (!this.state.active) throw new Error("no active cycle");
    return this.state.active;
  }

  /** Saves the state (If-Match: a lost race fails) and renews the lease this worker holds. */
  private async checkpoint(): Promise<void> {
    if (this.state.lease?.owner === this.owner) this.state.lease.expiresAt = Date.now() + this.deps.config.SYNC_LEASE_SECONDS * 1000;
    this.etag = await this.deps.store.save(this.state, this.etag);
  }

  async run(job: DirectoryJob): Promise<DirectoryJobOutcome> {
    const loaded = await this.deps.store.loadDirectory(this.tenantId);
    this.state = loaded.state?.doc ?? emptyState(this.tenantId);
    this.etag = loaded.state?.etag;
    this.envStates = loaded.environments;
    const now = Date.now();
    const leaseHeld = this.state.lease !== null && this.state.lease.expiresAt > now && this.state.lease.owner !== this.owner;

    if (this.state.active) {
      const a = this.state.active;
      if (job.trigger === "continue" && (job.cycle !== a.cycle || job.step !== a.step)) return "stale";
      if (leaseHeld) return "busy";
      // A cycle whose worker is gone (its lease ran out): take it over from its last checkpoint.
      if (job.trigger !== "continue") a.step += 1;
    } else {
      if (job.trigger === "continue") return "stale";
      if (leaseHeld) return "busy";
      const started = await this.startCycle();
      if (!started) return "idle";
    }
    this.state.lease = { owner: this.owner, expiresAt: now + this.deps.config.SYNC_LEASE_SECONDS * 1000 };
    try {
      await this.checkpoint();
    } catch (err) {
      if (err instanceof AppError && (err.kind === "preconditionFailed" || err.kind === "conflict")) return "busy";
      throw err;
    }
    // On a failure the lease stays: a retry of this message (same owner) resumes from the last checkpoint.
    try {
      return await this.work();
    } finally {
      this.place.release();
    }
  }

  /** This job's place of tenantSizedWork, held from the fold of a full read until it is stored. */
  private readonly place = tenantSizedWork.place();

  /** A full read (users, or a group listed in full) folds every staged user into the whole snapshot. */
  private foldsWholeTenant(a: ActiveCycle): boolean {
    return a.usersFull || a.groupsFull || a.groupRoundFull;
  }

  /** Reads the environments and the tenant's facts; false when there is nothing to sync. */
  private async startCycle(): Promise<boolean> {
    const { deps, tenantId } = this;
    // Before anything is read: a cycle counts as reading the tenant from here (D13's approval waits for one begun after it).
    const startedAt = deps.now().toISOString();
    const [settings, environments] = await Promise.all([deps.settings.all(tenantId), deps.platform(tenantId, "background").listEnvironments()]);
    this.settingsRead = settings;
    const managed = managedEnvironments(environments, settings, this.envStates);
    if (managed.length === 0) return false;
    const trackedGroups = [...new Set(managed.flatMap((e) => (e.dataverse?.securityGroupId ? [e.dataverse.securityGroupId] : [])))].sort();
    const facts = await readTenantFacts(deps.graph(tenantId, "background"), trackedGroups);
    const previousGroups = [...new Set(this.state.groupStreams.flatMap((s) => s.groupIds))].sort();
    const usersFull = this.state.usersDeltaLink === null || this.state.bucketCount === 0;
    this.state.active = {
      cycle: this.state.cycle + 1,
      step: 1,
      startedAt,
      phase: "users",
      usersFull,
      usersNextLink: null,
      usersDeltaLink: null,
      groupsFull: usersFull || JSON.stringify(previousGroups) !== JSON.stringify(trackedGroups),
      groupStreamIndex: 0,
      groupNextLink: null,
      groupRoundFull: false,
      newGroupStreams: [],
      staged: 0,
      facts,
      environments,
      trackedGroups,
      reevaluateAll: factsChanges(this.state.facts, facts).everyone,
      fullCycle: false,
      journalDocs: 0,
      bucketCount: this.state.bucketCount,
    };
    return true;
  }

  private async work(): Promise<DirectoryJobOutcome> {
    while (this.state.active) {
      if (Date.now() > this.deadline) return this.continueLater();
      const a = this.active;
      if ((a.phase === "fold" || a.phase === "store") && this.foldsWholeTenant(a) && !this.place.take(this.deps.config.SYNC_TENANT_SIZED_JOBS_PER_PROCESS)) {
        return this.continueLater(TENANT_SIZED_WAIT_SECONDS);
      }
      if (a.phase === "fanout") this.place.release(); // the folded snapshot is stored and dropped
      switch (a.phase) {
        case "users":
          await this.usersPhase();
          break;
        case "groups":
          await this.groupsPhase();
          break;
        case "fold":
          await this.foldPhase();
          break;
        case "store":
          await this.storePhase();
          break;
        case "fanout":
          await this.fanoutPhase();
          break;
      }
    }
    return "completed";
  }

  private async continueLater(delaySeconds?: number): Promise<DirectoryJobOutcome> {
    const a = this.active;
    a.step += 1;
    this.state.lease = null;
    await this.checkpoint();
    await enqueueDirectoryJob(this.deps.queue, this.tenantId, { trigger: "continue", cycle: a.cycle, step: a.step }, delaySeconds);
    return "continued";
  }

  private async stage(doc: { kind: "users"; users: StagedUser[] } | { kind: "groups"; changes: StagedMemberChange[] }): Promise<void> {
    const a = this.active;
    const seq = a.staged;
    await this.deps.store.writeStaging({
      ...doc, id: `staging|${a.cycle}|${seq}`, type: "staging", partitionKey: directoryPartition(this.tenantId), cycle: a.cycle, seq,
    });
    a.staged = seq + 1;
  }

  private async usersPhase(): Promise<void> {
    const a = this.active;
    const graph = this.deps.graph(this.tenantId, "background");
    let buffer: StagedUser[] = [];
    let url = a.usersNextLink;
    if (url === null) {
      url = a.usersFull ? initialUsersDeltaUrl() : this.state.usersDeltaLink ?? initialUsersDeltaUrl();
      if (a.usersFull) buffer.push({ id: FULL_LISTING });
    }
    for (;;) {
      let page;
      try {
        page = await readUsersDeltaPage(graph, url);
      } catch (err) {
        if (!(err instanceof DeltaGoneError)) throw err;
        // 410 Gone: the token expired; a full round starts (staged entries before the marker still count).
        a.usersFull = true;
        url = initialUsersDeltaUrl();
        buffer.push({ id: FULL_LISTING });
        continue;
      }
      buffer.push(...page.items);
      const done = page.deltaLink !== null;
      if (!done) {
        if (!page.nextLink) throw new AppError("upstream", "Microsoft Graph answered a users/delta page with neither nextLink nor deltaLink.");
        url = page.nextLink;
      }
      const late = Date.now() > this.deadline;
      if (done || late || buffer.length >= STAGE_USERS) {
        if (buffer.length) await this.stage({ kind: "users", users: buffer });
        buffer = [];
        a.usersNextLink = done ? null : url;
        if (done) {
          a.usersDeltaLink = page.deltaLink;
          a.phase = "groups";
        }
        // A checkpoint only when something was staged or the chunk ends: a quiet round costs no write.
        if (a.staged > 0 || late) await this.checkpoint();
        if (done || late) return;
      }
    }
  }

  /**
   * Membership of the tracked security groups, one delta stream per 50 groups. The stream position
   * in the state moves only together with a staged document, so a crash loses no change.
   */
  private async groupsPhase(): Promise<void> {
    const a = this.active;
    const graph = this.deps.graph(this.tenantId, "background");
    const streams = chunk(a.trackedGroups, GROUPS_PER_STREAM);
    let buffer: StagedMemberChange[] = [];
    let url = a.groupNextLink;
    while (a.groupStreamIndex < streams.length) {
      const ids = streams[a.groupStreamIndex] ?? [];
      if (url === null) {
        const previous = a.groupsFull ? undefined : this.state.groupStreams.find((s) => JSON.stringify(s.groupIds) === JSON.stringify(ids));
        a.groupRoundFull = !previous;
        url = previous ? previous.deltaLink : initialGroupsDeltaUrl(ids);
        if (!previous) for (const g of ids) buffer.push({ g, u: FULL_LISTING, a: true });
      }
      let page;
      try {
        page = await readGroupsDeltaPage(graph, url);
      } catch (err) {
        if (!(err instanceof DeltaGoneError)) throw err;
        a.groupsFull = true;
        url = null;
        continue;
      }
      for (const item of page.items) {
        buffer.push(...item.members);
        // A deleted group has no members any more: an empty full listing.
        for (const g of item.deletedGroups) buffer.push({ g, u: FULL_LISTING, a: true });
      }
      const done = page.deltaLink !== null;
      if (!done && !page.nextLink) throw new AppError("upstream", "Microsoft Graph answered a groups/delta page with neither nextLink nor deltaLink.");
      url = done ? null : (page.nextLink ?? null);
      const late = Date.now() > this.deadline;
      if (!done && !late && buffer.length < STAGE_MEMBERS) continue;
      if (buffer.length) await this.stage({ kind: "groups", changes: buffer });
      buffer = [];
      if (done) {
        a.newGroupStreams.push({ groupIds: ids, deltaLink: page.deltaLink ?? "" });
        a.groupStreamIndex += 1;
      }
      a.groupNextLink = url;
      if (late || a.staged > 0) await this.checkpoint();
      if (late) return;
    }
    a.phase = "fold";
  }

  /** Merges the staged changes into the snapshot (in memory) and writes the journal of changed users. */
  private async foldPhase(): Promise<void> {
    const a = this.active;
    const { store } = this.deps;
    const staging = a.staged > 0 ? await store.readStaging(this.tenantId, a.cycle, a.staged) : [];
    const users: StagedUser[] = [];
    const members: StagedMemberChange[] = [];
    for (const doc of staging) {
      if (doc.kind === "users") users.push(...doc.users);
      else members.push(...doc.changes);
    }
    const affected = factsChanges(this.state.facts, a.facts).users;
    const changes = { users, members, trackedGroups: a.trackedGroups };
    const all = needsAllBuckets(changes);
    a.fullCycle = all || a.reevaluateAll;
    if (!all && users.length === 0 && members.length === 0 && affected.length === 0) {
      a.phase = "fanout";
      return;
    }
    const { snapshot, pending } = await this.readSnapshot(all ? undefined : [...users.map((u) => u.id), ...members.map((m) => m.u), ...affected]);
    const changed = fold(snapshot, changes, all ? "all" : "touched", pending);
    a.bucketCount = all ? chooseBucketCount(snapshot.size) : a.bucketCount;
    if (!a.fullCycle) {
      const journal = [...new Set([...changed, ...affected])].flatMap((id) => {
        const u = snapshot.get(id);
        return u ? [u] : [];
      });
      const docs = chunk(journal, JOURNAL_USERS);
      await store.writeJournal(this.tenantId, a.cycle, docs);
      a.journalDocs = docs.length;
    }
    a.phase = "store";
    await this.checkpoint();
    this.folded = { snapshot, pending, changed, all };
  }

  private folded: { snapshot: Map<string, DirectoryUser>; pending: PendingMemberships; changed: Set<string>; all: boolean } | undefined;

  /** The users (and pending memberships) of the buckets of `ids`, or of every bucket. */
  private async readSnapshot(ids: string[] | undefined): Promise<{ snapshot: Map<string, DirectoryUser>; pending: PendingMemberships }> {
    const count = this.state.bucketCount;
    const snapshot = new Map<string, DirectoryUser>();
    const pending: PendingMemberships = new Map();
    if (count === 0) return { snapshot, pending };
    const buckets = ids ? [...new Set(ids.map((id) => bucketOf(id, count)))] : undefined;
    for (const doc of await this.deps.store.readBucketDocuments(this.tenantId, count, buckets)) {
      for (const u of doc.users) snapshot.set(u.id, u);
      for (const [id, groups] of Object.entries(doc.pending ?? {})) pending.set(id, groups);
    }
    return { snapshot, pending };
  }

  /** Writes the snapshot (re-folding from every staged page after a crash; the staging goes in the fanout). */
  private async storePhase(): Promise<void> {
    const a = this.active;
    const { store } = this.deps;
    if (!this.folded) {
      const staging = a.staged > 0 ? await store.readStaging(this.tenantId, a.cycle, a.staged) : [];
      const users = staging.flatMap((d) => (d.kind === "users" ? d.users : []));
      const members = staging.flatMap((d) => (d.kind === "groups" ? d.changes : []));
      const changes = { users, members, trackedGroups: a.trackedGroups };
      const all = needsAllBuckets(changes);
      const { snapshot, pending } = await this.readSnapshot(all ? undefined : [...users.map((u) => u.id), ...members.map((m) => m.u)]);
      const changed = fold(snapshot, changes, all ? "all" : "touched", pending);
      this.folded = { snapshot, pending, changed, all };
    }
    const { snapshot, pending, changed, all } = this.folded;
    if (all) {
      // Under the new count's ids: the buckets of the count in the state stay whole until finishCycle
      // has saved the new count (readers, and a re-fold after a crash, read those).
      await store.writeBuckets(this.tenantId, a.bucketCount, toBuckets(snapshot.values(), a.bucketCount), pendingByBucket(pending, a.bucketCount));
    } else if (changed.size > 0) {
      const touched = new Set([...changed].map((id) => bucketOf(id, a.bucketCount)));
      const buckets = new Map<number, DirectoryUser[]>([...touched].map((b) => [b, []]));
      for (const u of snapshot.values()) buckets.get(bucketOf(u.id, a.bucketCount))?.push(u);
      await store.writeBuckets(this.tenantId, a.bucketCount, buckets, pendingByBucket(pending, a.bucketCount, touched));
    }
    // The staging stays until this checkpoint is saved: a worker that dies before it re-folds from every staged page.
    this.folded = undefined;
    a.phase = "fanout";
    await this.checkpoint();
  }

  /** The staged delta pages of the cycle, once the snapshot they were folded into is checkpointed (a page already gone is fine). */
  private async dropStaging(): Promise<void> {
    const a = this.active;
    if (a.staged === 0) return;
    await this.deps.store.deleteChunks(directoryPartition(this.tenantId), Array.from({ length: a.staged }, (_, i) => `staging|${a.cycle}|${i}`));
  }

  /** Starts the runs of the environments that are due, resumes stalled ones, and closes the cycle. */
  private async fanoutPhase(): Promise<void> {
    const a = this.active;
    const { deps, tenantId } = this;
    // Here, not in the store phase: a store phase resumed after a crash must find every page it folded.
    await this.dropStaging();
    let settings = this.settingsRead;
    if (!settings) {
      // A cycle resumed in a later message: environment states and settings may have moved since.
      const [fresh, loaded] = await Promise.all([deps.settings.all(tenantId), deps.store.loadDirectory(tenantId)]);
      settings = fresh;
      this.envStates = loaded.environments;
    }
    const journal = { ...this.state.journal, ...(a.journalDocs > 0 ? { [String(a.cycle)]: a.journalDocs } : {}) };
    const fullCycles = a.fullCycle ? [...this.state.fullCycles, a.cycle] : this.state.fullCycles;
    const previous = new Map(this.state.environments.map((e) => [e.id, e]));
    const paused = await deps.isPaused(tenantId);
    let minCursor = a.cycle;
    for (const env of managedEnvironments(a.environments, settings, this.envStates)) {
      const existing = this.envStates.get(env.id);
      const es = existing?.doc ?? newEnvState(tenantId, env.id);
      const before = previous.get(env.id);
      const envChanged = before !== undefined && (before.type !== env.type || before.dataverse?.securityGroupId !== env.dataverse?.securityGroupId);
      const pendingJournal = Object.keys(journal).some((c) => Number(c) > es.cursor && Number(c) <= a.cycle);
      const reconcileDue = es.lastFullAt === null || Date.now() - Date.parse(es.lastFullAt) > deps.config.SYNC_RECONCILE_HOURS * 3_600_000;
      const full = es.cursor === 0 || es.cursor < this.state.journalFloor || fullCycles.some((c) => c > es.cursor && c <= a.cycle) || reconcileDue || envChanged;
      const runSettings = {
        defaultSecurityRoleIds: settings.get(env.id)?.value.defaultSecurityRoleIds ?? [],
        massDisableThresholdPercent: settings.get(env.id)?.value.massDisableThresholdPercent ?? deps.config.SYNC_MASS_DISABLE_PERCENT,
      };
      if (es.activeRunId) {
        minCursor = Math.min(minCursor, es.cursor);
        await this.driveActiveRun(env, es, existing, { cycle: a.cycle, full, settings: runSettings, paused });
        continue;
      }
      // Users whose last action failed (a 5xx) are retried by the next run even when the directory did not change.
      const retryFailed = (es.failedUsers ?? 0) > 0;
      if (settings.get(env.id)?.value.syncEnabled !== true || !(full || pendingJournal || retryFailed)) continue;
      minCursor = Math.min(minCursor, es.cursor);
      const run = newRun({ tenantId, environmentId: env.id, trigger: "schedule", requestedBy: null, now: deps.now() });
      Object.assign(run, { environment: env, settings: runSettings, fromCycle: es.cursor, targetCycle: a.cycle, full, batchSize: es.batchSize ?? null });
      await deps.store.save(run, undefined);
      // An admin started a run at the same moment: theirs goes first; this one is dropped.
      const claim = await deps.store.claimEnvironment(tenantId, env.id, run.runId, existing).catch(async (err: unknown) => {
        await deps.store.deleteMany(run.partitionKey, [run.id]);
        throw err;
      });
      if (!claim.claimed) {
        await deps.store.deleteMany(run.partitionKey, [run.id]);
        continue;
      }
      await enqueueEnvironmentJob(deps.queue, tenantId, { environmentId: env.id, runId: run.runId, step: run.step });
    }
    await this.finishCycle(journal, fullCycles, minCursor);
  }

  /** An environment's active run: start it (queued by an admin), resume it (stalled or unpaused), or leave it (awaiting approval). */
  private async driveActiveRun(
    env: PlatformEnvironment,
    es: EnvState,
    existing: Versioned<EnvState> | undefined,
    ctx: { cycle: number; full: boolean; settings: NonNullable<RunDocument["settings"]>; paused: boolean },
  ): Promise<void> {
    const { deps, tenantId } = this;
    const found = await deps.store.readRun(tenantId, env.id, es.activeRunId ?? "");
    if (!found || TERMINAL_STATES.has(found.doc.state)) {
      // The run finished but its environment state was not updated (a crash in between): release it.
      await deps.store.save({ ...es, activeRunId: null }, existing?.etag).catch(() => undefined);
      return;
    }
    const run = found.doc;
    const now = Date.now();
    let resume = false;
    if (run.state === "queued" && run.targetCycle === null) {
      Object.assign(run, { environment: env, settings: ctx.settings, fromCycle: es.cursor, targetCycle: ctx.cycle, full: true, batchSize: es.batchSize ?? null });
      resume = true;
    } else if (run.state === "paused" && !ctx.paused) {
      resume = true;
    } else if (isStalled(run, now, deps.config.SYNC_LEASE_SECONDS)) {
      resume = true;
    }
    if (!resume) return;
    run.step += 1;
    run.lease = null;
    run.heartbeatAt = now;
    run.resumeAt = null;
    if (run.state === "paused") run.state = "running";
    try {
      await deps.store.save(run, found.etag);
    } catch (err) {
      if (err instanceof AppError && err.kind === "preconditionFailed") return;
      throw err;
    }
    await enqueueEnvironmentJob(deps.queue, tenantId, { environmentId: env.id, runId: run.runId, step: run.step });
  }

  private async finishCycle(journal: Record<string, number>, fullCycles: number[], minCursor: number): Promise<void> {
    const a = this.active;
    const retiredBuckets = this.state.bucketCount !== 0 && this.state.bucketCount !== a.bucketCount ? this.state.bucketCount : 0;
    // Journal no environment still needs is removed (an environment left behind reconciles fully).
    const prunable = Object.entries(journal).filter(([c]) => Number(c) <= minCursor);
    if (prunable.length) {
      await this.deps.store.deleteChunks(
        directoryPartition(this.tenantId),
        prunable.flatMap(([c, n]) => Array.from({ length: n }, (_, i) => `journal|${c}|${i}`)),
      );
      for (const [c] of prunable) delete journal[c];
    }
    this.state = {
      ...this.state,
      cycle: a.cycle,
      usersDeltaLink: a.usersDeltaLink ?? this.state.usersDeltaLink,
      groupStreams: a.newGroupStreams,
      bucketCount: a.bucketCount,
      facts: a.facts,
      environments: a.environments,
      journal,
      fullCycles: fullCycles.filter((c) => c > minCursor),
      journalFloor: Math.max(this.state.journalFloor, ...prunable.map(([c]) => Number(c))),
      lastCycleAt: this.deps.now().toISOString(),
      // D4: the cycle started before its users/delta read (a full round restarted after 410 Gone read later still).
      usersReadAt: a.startedAt,
      active: null,
      lease: null,
    };
    await this.checkpoint();
    // The old bucket count's documents go only once no state names it any more. (A crash before this
    // leaves them behind unread; a later switch back to that count rewrites every one of its buckets.)
    if (retiredBuckets) {
      await this.deps.store.deleteChunks(directoryPartition(this.tenantId), Array.from({ length: retiredBuckets }, (_, b) => bucketId(retiredBuckets, b)));
    }
  }
}
