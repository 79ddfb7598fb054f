import { AppError } from "../errors/app-error.js";
import type { DataverseClient } from "../clients/dataverse.js";
import { executeActions, type ActionResult, type AssignRoleFailure } from "./apply.js";
import { decide, type PlannedAction } from "./decide.js";
import type { SyncDeps } from "./deps.js";
import { environmentPartition, failedActionId, type DriftDocument, type EmailLock, type FailedAction, type RunDocument } from "./documents.js";
import { driftLever } from "./drift.js";
import { evaluateEligibility } from "./eligibility.js";
import { enqueueDirectoryJob, enqueueEnvironmentJob, type EnvironmentJob } from "./jobs.js";
import type { DirectoryUser, SystemUserRow } from "./model.js";
import { meter } from "./metrics.js";
import { markAfterAnswer, pendingRolesMark, pendingRolesOf, rolesStillOwed } from "./pending-roles.js";
import { planRun, recordNewerThanSnapshot } from "./plan.js";
import { recordKind } from "./records.js";
import { bucketOf } from "./snapshot.js";
import { TENANT_SIZED_WAIT_SECONDS, tenantSizedWork } from "./tenant-sized.js";
import { runDurationMs, TERMINAL_STATES } from "./runs.js";
import type { Versioned } from "./store.js";

/**
 * One environment's run (D1, D3, D11-D14), in chunks of at most SYNC_CHUNK_SECONDS:
 * - plan: the candidates (every user on a full reconcile, the journal's changed users otherwise)
 *   are judged and compared with their records; the actions are stored in plan chunks;
 * - D13: a plan that would disable more than the threshold waits for an admin's approval, with
 *   nothing applied before; once approved, each window's disables are judged again against the
 *   current snapshot (a user eligible again meanwhile is skipped); a rejected run ends unapplied;
 * - apply: windows of actions, each followed by a checkpoint (position, the window's done
 *   actions, counts), so a worker killed anywhere repeats at most the window it was in - and
 *   every lever is idempotent (addUser, PATCH with If-Match: *), so a repeat changes nothing
 *   and creates no record.
 */
export type EnvironmentJobOutcome = "stale" | "busy" | "paused" | "awaiting-approval" | "continued" | "succeeded" | "failed";

const PLAN_CHUNK = 1000;
/** How soon a run waiting for its directory cycle to be saved looks again (the cycle saves right after its fanout). */
const CYCLE_WAIT_SECONDS = 5;

const parseTime = (iso: string | null | undefined): number | null => {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? t : null;
};

const FAILURES_KEPT = 50;
const INITIAL_BATCH = 100;

interface PlanChunkDoc {
  actions: PlannedAction[];
}

export const actionKey = (a: PlannedAction) => `${a.op}:${a.userId}`;

/**
 * The environment's failed-action count a finished run leaves: what it counted - or, when it knew
 * of none at plan time and did not count, what is there already: a mark an on-demand add noted
 * meanwhile (noteFailedActionOutsideRun) is not wiped by an uncounted 0.
 */
export function failedUsersAfterRun(computed: number, counted: boolean, current: number | undefined): number {
  return counted ? computed : Math.max(computed, current ?? 0);
}

export async function runEnvironmentJob(deps: SyncDeps, tenantId: string, job: EnvironmentJob, owner: string): Promise<EnvironmentJobOutcome> {
  const found = await deps.store.readRun(tenantId, job.environmentId, job.runId);
  if (!found) return "stale";
  return new EnvironmentRun(deps, tenantId, found, owner).execute(job);
}

class EnvironmentRun {
  private run: RunDocument;
  private etag: string;
  private readonly deadline: number;

  constructor(private readonly deps: SyncDeps, private readonly tenantId: string, found: Versioned<RunDocument>, private readonly owner: string) {
    this.run = found.doc;
    this.etag = found.etag;
    this.deadline = Date.now() + deps.config.SYNC_CHUNK_SECONDS * 1000;
  }

  private async save(): Promise<void> {
    this.run.heartbeatAt = Date.now();
    this.etag = await this.deps.store.save(this.run, this.etag);
  }

  async execute(job: EnvironmentJob): Promise<EnvironmentJobOutcome> {
    const run = this.run;
    const now = Date.now();
    if (TERMINAL_STATES.has(run.state) || run.step !== job.step) return "stale";
    if (run.state === "awaiting-approval") return "awaiting-approval";
    if (run.lease && run.lease.expiresAt > now && run.lease.owner !== this.owner) return "busy";
    if (!run.environment || !run.settings || run.targetCycle === null) return "stale";
    run.lease = { owner: this.owner, expiresAt: now + this.deps.config.SYNC_LEASE_SECONDS * 1000 };
    run.state = "running";
    run.startedAt ??= this.deps.now().toISOString();
    run.resumeAt = null;
    run.pausedReason = null;
    try {
      await this.save();
    } catch (err) {
      if (err instanceof AppError && err.kind === "preconditionFailed") return "busy";
      throw err;
    }
    if (await this.deps.isPaused(this.tenantId)) return this.park();
    // A full plan holds the whole tenant in memory: at most SYNC_TENANT_SIZED_JOBS_PER_PROCESS at once.
    const place = tenantSizedWork.place();
    if (run.phase === "plan" && run.full && !place.take(this.deps.config.SYNC_TENANT_SIZED_JOBS_PER_PROCESS)) {
      return this.continueLater(TENANT_SIZED_WAIT_SECONDS);
    }
    try {
      if (run.phase === "plan" && (await meter.cpu("plan", () => this.planPhase()))) return "awaiting-approval";
      place.release(); // the plan is stored in chunks: applying it needs no more than a window in memory
      const applied = await meter.cpu("apply", () => this.applyPhase());
      if (applied === "paused") return this.park();
      if (applied !== "finished") return this.continueLater(applied === "deadline" ? null : applied.deferSeconds);
      await this.finish("succeeded", null);
      return "succeeded";
    } catch (err) {
      // Transient failures are retried by the queue (the same message keeps the lease); anything else ends the run.
      if (err instanceof AppError && err.transient) throw err;
      await this.finish("failed", err instanceof Error ? err.message : String(err));
      return "failed";
    } finally {
      place.release();
    }
  }

  /** P11: automation is paused; the run waits and resumes (by the next directory cycle) once it is not. */
  private async park(): Promise<EnvironmentJobOutcome> {
    this.run.state = "paused";
    this.run.pausedReason = "Automation is paused for this tenant (P11); the run resumes when it is resumed.";
    this.run.lease = null;
    await this.save();
    return "paused";
  }

  private async continueLater(deferSeconds: number | null): Promise<EnvironmentJobOutcome> {
    const run = this.run;
    run.step += 1;
    run.lease = null;
    run.resumeAt = deferSeconds ? Date.now() + deferSeconds * 1000 : null;
    await this.save();
    await enqueueEnvironmentJob(this.deps.queue, this.tenantId, { environmentId: run.environmentId, runId: run.runId, step: run.step }, deferSeconds ?? undefined);
    return "continued";
  }

  /** Builds and stores the plan; true when D13 holds it for approval. */
  private async planPhase(): Promise<boolean> {
    const { deps, tenantId } = this;
    const run = this.run;
    const env = run.environment;
    const settings = run.settings;
    if (!env || !settings) throw new AppError("internal", "A run without its environment cannot plan.");
    const directory = await deps.store.readDirectoryState(tenantId);
    const facts = directory?.doc.facts;
    if (!directory || !facts) throw new AppError("unavailable", "The tenant's directory has not been read yet.", { retryAfterSeconds: 30 });
    const target = run.targetCycle ?? 0;
    if (directory.doc.cycle < target) {
      // D1/D12: the directory cycle enqueues its runs before it saves itself (journal, snapshot's
      // bucket count, facts, cycle number). A run picked up in between waits for it: planned now,
      // it would find none of the cycle's changes and still move the cursor past them.
      if (directory.doc.active?.cycle === target) {
        throw new AppError("unavailable", `The directory cycle ${target} this run applies is not saved yet.`, { retryAfterSeconds: CYCLE_WAIT_SECONDS });
      }
      // No cycle under way can ever reach the target (the directory state was reset): fail, which frees the environment.
      throw new AppError("conflict", `The run waits for directory cycle ${target}, but the tenant's directory is at cycle ${directory.doc.cycle} with no cycle ${target} under way.`);
    }
    const dataverse = deps.dataverse(tenantId, env, "background", this.deadline + 60_000);
    const snapshotReadAt = parseTime(directory.doc.usersReadAt ?? directory.doc.lastCycleAt);
    let users: Map<string, DirectoryUser>;
    let rows: SystemUserRow[];
    let failed: Set<string>;
    let recheck = new Set<string>();
    let marks: Awaited<ReturnType<typeof deps.store.readMarks>>;
    if (run.full) {
      users = new Map();
      for (const list of (await deps.store.readBuckets(tenantId, directory.doc.bucketCount)).values()) for (const u of list) users.set(u.id, u);
      rows = [];
      for await (const page of dataverse.allSystemUsers()) rows.push(...page);
      marks = await deps.store.readMarks(tenantId, env.id);
      failed = new Set(marks.failed.keys());
    } else {
      users = await deps.store.readJournal(tenantId, directory.doc.journal, run.fromCycle, target);
      // Users whose last action failed are tried again, changed in the directory or not; users with
      // drift are looked at again (their drift goes once the record agrees with the rules).
      const rechecked = await deps.store.readRechecked(tenantId, env.id);
      failed = new Set(rechecked.failed.keys());
      recheck = new Set([...rechecked.drifting].filter((id) => !users.has(id) && !failed.has(id)));
      const missing = [...failed, ...recheck].filter((id) => !users.has(id));
      const { bucketCount } = directory.doc;
      if (missing.length && bucketCount > 0) {
        const wanted = new Set(missing);
        const buckets = await deps.store.readBuckets(tenantId, bucketCount, [...new Set(missing.map((id) => bucketOf(id, bucketCount)))]);
        for (const list of buckets.values()) for (const u of list) if (wanted.has(u.id)) users.set(u.id, u);
      }
      const ids = [...new Set([...users.keys(), ...failed, ...recheck])];
      rows = ids.length ? await dataverse.systemUsersByObjectIds(ids) : [];
      marks = await deps.store.readMarks(tenantId, env.id, ids);
    }
    const plan = planRun({
      environment: env, facts, users, rows, full: run.full, drift: marks.drift, locks: marks.locks, pins: marks.pins, failed, recheck, snapshotReadAt,
      pendingRoles: pendingRolesOf(marks.failed, run.settings?.defaultSecurityRoleIds ?? []),
    });

    const pk = environmentPartition(tenantId, env.id);
    if (plan.resolvedDrift.length) await deps.store.deleteMany(pk, plan.resolvedDrift.map((u) => `drift|${u}`));
    if (plan.resolvedFailed.length) await deps.store.deleteMany(pk, plan.resolvedFailed.map(failedActionId));
    if (plan.newLocks.length) {
      const at = deps.now().toISOString();
      await deps.store.upsertMarks(pk, plan.newLocks.map((l): EmailLock => ({ id: `email-lock|${l.userId}`, type: "email-lock", tenantId, partitionKey: pk, userId: l.userId, lockedAt: at, value: l.value })));
    }
    const enabledUsers = run.full ? plan.enabledUsers : ((await deps.store.readEnvState(tenantId, env.id))?.doc.enabledUsers ?? plan.enabledUsers);
    const chunks: PlannedAction[][] = [];
    for (let i = 0; i < plan.actions.length; i += PLAN_CHUNK) chunks.push(plan.actions.slice(i, i + PLAN_CHUNK));
    if (chunks.length) await deps.store.writePlan(tenantId, env.id, run.runId, chunks);
    const byOp: Record<string, number> = {};
    for (const a of plan.actions) byOp[a.op] = (byOp[a.op] ?? 0) + 1;
    // Adds whose new record is read after addUser (which answers no record id): for default roles, or an access mode to set.
    const addsReadBack = plan.actions.filter((a) => a.op === "add" && ((run.settings?.defaultSecurityRoleIds.length ?? 0) > 0 || a.accessMode !== undefined)).length;
    run.plan = {
      chunks: chunks.length, actions: plan.actions.length, byOp, addsReadBack, enabledUsers, driftRecords: marks.drift.size - plan.resolvedDrift.length,
      failedMarks: failed.size - plan.resolvedFailed.length,
      failedMarksRead: failed.size,
    };
    run.phase = "apply";
    run.progress = { chunk: 0, position: 0, doneInWindow: [] };
    run.counts = { ...run.counts, read: plan.read, skipped: plan.skipped };

    // D13: a disable an admin approved before, which the platform then refused (drift), does not hold
    // the run again; every other disable counts - refused ones too, which the platform may accept now.
    const approvedBefore = (userId: string) => {
      const drift = marks.drift.get(userId);
      return drift?.kind === "enabledButIneligible" && !!drift.disableApprovedAt;
    };
    const disables = plan.actions.filter((a) => a.op === "disable" && !approvedBefore(a.userId)).length;
    const threshold = settings.massDisableThresholdPercent;
    if (disables > 0 && disables > (enabledUsers * threshold) / 100) {
      run.state = "awaiting-approval";
      run.guard = { disables, enabledUsers, thresholdPercent: threshold, heldAt: deps.now().toISOString(), approvedBy: null, approvedAt: null, rejectedBy: null, rejectedAt: null };
      run.lease = null;
      await this.save();
      return true;
    }
    await this.save();
    return false;
  }

  private async applyPhase(): Promise<"finished" | "deadline" | "paused" | { deferSeconds: number }> {
    const { deps, tenantId } = this;
    const run = this.run;
    const env = run.environment;
    const plan = run.plan;
    if (!env || !plan || !run.settings) throw new AppError("internal", "A run without a plan cannot apply.");
    const dataverse = deps.dataverse(tenantId, env, "background", this.deadline);
    const platform = deps.platform(tenantId, "background");
    const max = deps.config.SYNC_DATAVERSE_BATCH_MAX;
    let loaded = null as { seq: number; doc: PlanChunkDoc } | null;
    while (run.progress.chunk < plan.chunks) {
      if (Date.now() > this.deadline) return "deadline";
      if (await deps.isPaused(tenantId)) return "paused";
      if (loaded?.seq !== run.progress.chunk) {
        loaded = { seq: run.progress.chunk, doc: { actions: await deps.store.readPlanChunk(tenantId, env.id, run.runId, run.progress.chunk) } };
      }
      const actions = loaded.doc.actions;
      const size = run.batchSize ?? Math.min(INITIAL_BATCH, max);
      const window = actions.slice(run.progress.position, run.progress.position + size);
      const done = new Set(run.progress.doneInWindow);
      const started = Date.now();
      const rechecked = await this.recheckApprovedDisables(window.filter((a) => !done.has(actionKey(a))), dataverse);
      if ("stale" in rechecked) {
        // Approved since the directory was last read: a cycle reads it now (Entra, and the platform's
        // environment - its security group), and the run goes on once one begun after the approval is
        // stored. Asked for only while none such is under way (a cycle begun earlier finishes first).
        // A directory that cannot be read (consent revoked, Graph failing) ends the wait: the run fails, nothing held is disabled.
        const waited = deps.now().getTime() - Date.parse(run.guard?.approvedAt ?? "");
        const limit = deps.config.SYNC_APPROVAL_READ_TIMEOUT_SECONDS;
        if (waited > limit * 1000) {
          const within = limit < 120 ? `${limit} seconds` : `${Math.round(limit / 60)} minutes`;
          throw new AppError(
            "upstream",
            `Approved at ${run.guard?.approvedAt ?? "?"}, but no read of the tenant's directory begun since then finished within ${within} ` +
              "(Microsoft Graph or the Power Platform admin API failing or refusing, or the read slower than that; see the sync's directory cycles in the host log): " +
              "the held disables were not made, so that no user is disabled on an old reading. Start a new run once the directory can be read.",
          );
        }
        if (!rechecked.cycleUnderWay) await enqueueDirectoryJob(deps.queue, tenantId, { trigger: "manual" });
        return { deferSeconds: APPROVAL_READ_WAIT_SECONDS };
      }
      const { todo, spared } = rechecked;
      const outcome = await executeActions(
        { platform, dataverse, environmentId: env.id, defaultRoleIds: run.settings.defaultSecurityRoleIds, concurrency: deps.config.SYNC_ADDUSER_CONCURRENCY, deadline: this.deadline },
        todo,
      );
      // Counted and marked done in the same checkpoint as the window's results: a repeat neither loses nor recounts them.
      run.counts.skipped += spared.length;
      for (const a of spared) done.add(actionKey(a));
      // Eligible again: a drift record of an earlier refused disable no longer holds (idempotent on a repeat).
      if (spared.length && (plan.driftRecords > 0 || this.driftWritten)) {
        await deps.store.deleteMany(environmentPartition(tenantId, env.id), spared.map((a) => `drift|${a.userId}`));
      }
      await this.record(outcome.results);
      await this.auditWindow(outcome.results, spared);
      for (const f of outcome.roleFailures) this.addFailure({ userId: f.userId, op: "assignRole", code: f.code, message: f.message });
      await this.markPendingRoles(outcome.roleFailures);
      for (const r of outcome.results) done.add(actionKey(r.action));
      if (window.every((a) => done.has(actionKey(a)))) {
        run.progress.position += window.length;
        run.progress.doneInWindow = [];
        if (run.progress.position >= actions.length) run.progress = { chunk: run.progress.chunk + 1, position: 0, doneInWindow: [] };
      } else {
        run.progress.doneInWindow = [...done];
      }
      if (outcome.deferSeconds === null && !outcome.fatal) run.batchSize = tuneBatchSize(size, Date.now() - started, todo.length, deps.config.SYNC_DATAVERSE_BATCH_TARGET_MS, max);
      run.lease = { owner: this.owner, expiresAt: Date.now() + deps.config.SYNC_LEASE_SECONDS * 1000 };
      await this.save();
      // The window's failures are recorded (counts, failures, failed-action marks, audit): the run ends.
      if (outcome.fatal) throw outcome.fatal;
      if (outcome.deferSeconds !== null) return { deferSeconds: outcome.deferSeconds };
    }
    return "finished";
  }

  /**
   * D13: the disables of a run an admin approved were planned when it was held, possibly long
   * before. Each one is judged again against the directory as it is now - the snapshot, tenant
   * facts and platform environments of a directory cycle whose read began after the approval
   * ("stale" until there is one), and the user's record: only a user still ineligible is disabled;
   * the others are spared and skipped (eligible again, e.g. put back in the security group, the
   * environment's group changed back, or a record already disabled or gone).
   */
  private async recheckApprovedDisables(
    actions: PlannedAction[], dataverse: DataverseClient,
  ): Promise<{ todo: PlannedAction[]; spared: PlannedAction[] } | { stale: true; cycleUnderWay: boolean }> {
    const { deps, tenantId } = this;
    const run = this.run;
    const disables = actions.filter((a) => a.op === "disable");
    if (!run.guard?.approvedAt || disables.length === 0) return { todo: actions, spared: [] };
    const directory = await deps.store.readDirectoryState(tenantId);
    const facts = directory?.doc.facts;
    if (!directory || !facts) throw new AppError("unavailable", "The tenant's directory has not been read yet.", { retryAfterSeconds: 30 });
    const readAt = parseTime(directory.doc.usersReadAt ?? directory.doc.lastCycleAt);
    const approvedAt = Date.parse(run.guard.approvedAt);
    if (readAt === null || readAt < approvedAt) {
      const active = directory.doc.active;
      return { stale: true, cycleUnderWay: active !== null && Date.parse(active.startedAt) >= approvedAt };
    }
    const environment = directory.doc.environments.find((e) => e.id === run.environmentId) ?? run.environment;
    if (!environment) throw new AppError("internal", "A run without its environment cannot apply.");
    const ids = new Set(disables.map((a) => a.userId));
    const { bucketCount } = directory.doc;
    const users = new Map<string, DirectoryUser>();
    if (bucketCount > 0) {
      const buckets = await deps.store.readBuckets(tenantId, bucketCount, [...new Set([...ids].map((id) => bucketOf(id, bucketCount)))]);
      for (const list of buckets.values()) for (const u of list) if (ids.has(u.id)) users.set(u.id, u);
    }
    const rows = new Map<string, SystemUserRow>();
    for (const row of await dataverse.systemUsersByObjectIds([...ids])) {
      const id = row.azureactivedirectoryobjectid?.toLowerCase();
      if (id) rows.set(id, row);
    }
    const spared = new Set<PlannedAction>();
    for (const action of disables) {
      const row = rows.get(action.userId) ?? null;
      const user = users.get(action.userId) ?? null;
      const eligibility = evaluateEligibility({ user, userId: action.userId, tenant: facts, environment, record: row ? { kind: recordKind(row) } : null, explain: false });
      const decision = decide({
        userId: action.userId, user, row, eligibility, internalEmailLocked: false,
        recordNewerThanSnapshot: recordNewerThanSnapshot(row, user, parseTime(directory.doc.usersReadAt ?? directory.doc.lastCycleAt)),
      });
      if (decision.action?.op !== "disable") spared.add(action);
    }
    return { todo: actions.filter((a) => !spared.has(a)), spared: [...spared] };
  }

  /**
   * L16/D11: what a window changed, in the audit trail - one record per window naming each user it
   * changed (GET /audit?userId= finds the user's), what was done and why (a disable's failed rules,
   * an update's fields), and how it ended. Written with the window's checkpoint: a window repeated
   * after a crash is recorded again (its changes were made again), never lost.
   */
  private async auditWindow(results: readonly ActionResult[], spared: readonly PlannedAction[]): Promise<void> {
    if (results.length === 0 && spared.length === 0) return;
    const run = this.run;
    const changes = results.map((r) => ({
      userId: r.action.userId,
      op: r.action.op,
      // made; refused by the platform (recorded as drift, with its lever); failed (tried again by a later run)
      outcome: CHANGE_OUTCOMES[r.outcome],
      ...(r.action.op === "disable" && { failedRules: r.action.failedRules }),
      ...(r.action.op === "update" && { fields: Object.keys(r.action.patch) }),
      ...(r.action.op === "assignRoles" && { roleIds: r.action.roleIds }),
      // Messages cut short: a window's record (up to 1,000 changes) stays far under an item's 2 MB whatever Microsoft answered.
      ...(r.drift && { drift: { kind: r.drift.kind, platform: (r.drift.platform.message || r.drift.platform.code).slice(0, 300) } }),
      ...(r.failure && { error: { code: r.failure.code, message: r.failure.message.slice(0, 300) } }),
    }));
    // D13: an approved disable of a user eligible again by then is not made - said per user, too.
    const skipped = spared.map((a) => ({
      userId: a.userId, op: a.op, outcome: "skipped" as const, reason: "eligible again when the approved run came to it (judged against a directory read after the approval)",
    }));
    const all = [...changes, ...skipped];
    await this.deps.audit.append(this.tenantId, {
      actor: { type: "system", id: "sync" },
      action: "sync.changes",
      target: { type: "environment", id: run.environmentId },
      phase: "record",
      // A refusal by the platform is drift, not a failure of the run (D0); a failed change is.
      outcome: results.some((r) => r.outcome === "failed") ? "failed" : "succeeded",
      context: { runId: run.runId, trigger: run.trigger, userIds: [...new Set(all.map((c) => c.userId))], changes: all },
    });
  }

  /** This worker wrote drift records (a later window may clear them). */
  private driftWritten = false;
  /** This worker wrote failed-action marks (a later window may clear them). */
  private failedWritten = false;

  private addFailure(f: RunDocument["failures"][number]): void {
    if (this.run.failures.length < FAILURES_KEPT) this.run.failures.push(f);
  }

  /**
   * D14: default roles the window's adds did not give are kept in failed-action marks (op
   * `assignRoles`), so the next run - started for them even without a directory change - gives them.
   */
  private async markPendingRoles(failures: readonly AssignRoleFailure[]): Promise<void> {
    const env = this.run.environment;
    if (!failures.length || !env) return;
    // D11: a user added without all its roles is a failure of the run too (its failures list says which roles).
    this.run.counts.failed += new Set(failures.map((f) => f.userId)).size;
    // Owed (asked again by the next run): the roles not refused.
    const byUser = new Map<string, AssignRoleFailure[]>();
    for (const f of failures) if (f.retryable) byUser.set(f.userId, [...(byUser.get(f.userId) ?? []), f]);
    if (!byUser.size) return;
    const pk = environmentPartition(this.tenantId, env.id);
    const at = this.deps.now().toISOString();
    this.failedWritten = true;
    await this.deps.store.upsertMarks(pk, [...byUser].map(([userId, fs]) => pendingRolesMark(this.tenantId, env.id, userId, fs, at, this.run.runId)));
  }

  /** Counts, failures, drift records and failed-action marks of a window's results. */
  private async record(results: readonly ActionResult[]): Promise<void> {
    const { deps, tenantId } = this;
    const run = this.run;
    const env = run.environment;
    if (!env || results.length === 0) return;
    const c = run.counts;
    const driftResults = results.filter((r) => r.outcome === "drift");
    const failedResults = results.filter((r) => r.outcome === "failed");
    for (const r of results) {
      if (r.outcome === "drift") c.drift++;
      else if (r.outcome === "failed") {
        c.failed++;
        this.addFailure({ userId: r.action.userId, op: r.action.op, code: r.failure?.code ?? "", message: r.failure?.message ?? "" });
      } else if (r.action.op === "add") c.added++;
      else if (r.action.op === "reenable") c.reEnabled++;
      else if (r.action.op === "update" || r.action.op === "assignRoles") c.updated++;
      else c.disabled++;
    }
    const pk = environmentPartition(tenantId, env.id);
    // Nothing to clear or keep a `since` of when the environment had no drift (or failed marks) and this window made none.
    const driftMayExist = driftResults.length > 0 || (run.plan?.driftRecords ?? 1) > 0 || this.driftWritten;
    const failedMayExist = failedResults.length > 0 || (run.plan?.failedMarks ?? 1) > 0 || this.failedWritten;
    if (!driftMayExist && !failedMayExist) return;
    const existing = await deps.store.readMarks(tenantId, env.id, [...new Set(results.map((r) => r.action.userId))]);
    const at = deps.now().toISOString();

    // Roles an earlier add did not give, given now: no mark of this window keeps owing them.
    const rolesGiven = new Set(results.filter((r) => r.action.op === "assignRoles" && r.outcome === "done").map((r) => r.action.userId));
    // A user whose action was answered (done, or refused: drift) has no failed action any more - but
    // a user's two actions (roles owed, and a change) may be answered in different windows: what the
    // mark still owes for the other one stays (owed roles; or the failed change, once roles are given).
    const answeredOps = new Map<string, PlannedAction["op"][]>();
    for (const r of results) {
      if (r.outcome !== "failed" && existing.failed.has(r.action.userId)) answeredOps.set(r.action.userId, [...(answeredOps.get(r.action.userId) ?? []), r.action.op]);
    }
    const cleared: string[] = [];
    const kept: FailedAction[] = [];
    for (const [userId, ops] of answeredOps) {
      let rest: FailedAction | null = existing.failed.get(userId) ?? null;
      for (const op of ops) rest = rest && markAfterAnswer(rest, op);
      if (rest) kept.push({ ...rest, lastSeenAt: at });
      else cleared.push(userId);
    }
    if (cleared.length) await deps.store.deleteMany(pk, cleared.map(failedActionId));
    if (kept.length) await deps.store.upsertMarks(pk, kept);
    if (failedResults.length) {
      this.failedWritten = true;
      await deps.store.upsertMarks(
        pk,
        failedResults.map((r): FailedAction => ({
          id: failedActionId(r.action.userId), type: "failed-action", tenantId, environmentId: env.id, partitionKey: pk, userId: r.action.userId, op: r.action.op,
          code: r.failure?.code ?? "", message: r.failure?.message ?? "", since: existing.failed.get(r.action.userId)?.since ?? at, lastSeenAt: at, runId: run.runId,
          ...rolesStillOwed(r.action, rolesGiven.has(r.action.userId) ? undefined : existing.failed.get(r.action.userId)),
        })),
      );
    }

    if (!driftMayExist) return;
    // Roles given say nothing about a drift of the record's status or fields.
    const resolved = results.filter((r) => r.outcome === "done" && r.action.op !== "assignRoles").map((r) => r.action.userId);
    const gone = resolved.filter((u) => existing.drift.has(u));
    if (gone.length) await deps.store.deleteMany(pk, gone.map((u) => `drift|${u}`));
    if (!driftResults.length) return;
    this.driftWritten = true;
    await deps.store.upsertMarks(
      pk,
      driftResults.map((r): DriftDocument => {
        const kind = r.drift?.kind ?? "writeRefused";
        const failedRules = r.action.op === "disable" ? r.action.failedRules : [];
        return {
          id: `drift|${r.action.userId}`, type: "drift", tenantId, environmentId: env.id, partitionKey: pk, userId: r.action.userId,
          systemUserId: r.action.op === "add" ? null : r.action.systemUserId, kind, failedRules, platform: r.drift?.platform ?? null,
          lever: driftLever(kind, failedRules, env, r.drift?.platform.message), since: existing.drift.get(r.action.userId)?.since ?? at, lastSeenAt: at,
          runId: run.runId,
          disableApprovedAt: r.action.op === "disable" ? (run.guard?.approvedAt ?? existing.drift.get(r.action.userId)?.disableApprovedAt ?? null) : null,
        };
      }),
    );
  }

  /**
   * D1/P11: the directory read changes after this run's target cycle while it ran (a long first
   * sync, a run that waited out a pause): a cycle starts now, so they get their run at once instead
   * of at the next schedule - a change reaches Dataverse within one interval.
   */
  private async followUp(): Promise<void> {
    const { deps, tenantId } = this;
    const target = this.run.targetCycle ?? 0;
    try {
      const dir = (await deps.store.readDirectoryState(tenantId))?.doc;
      // A cycle under way starts the environment's next run itself when it fans out.
      const behind = dir !== undefined && !dir.active && (Object.keys(dir.journal).some((c) => Number(c) > target) || dir.fullCycles.some((c) => c > target));
      if (behind) await enqueueDirectoryJob(deps.queue, tenantId, { trigger: "follow-up" });
    } catch {
      // The next scheduled cycle starts it anyway.
    }
  }

  private async finish(state: "succeeded" | "failed", error: string | null): Promise<void> {
    const { deps, tenantId } = this;
    const run = this.run;
    const finishedAt = deps.now();
    run.state = state;
    run.phase = state === "succeeded" ? "done" : run.phase;
    run.error = error;
    run.finishedAt = finishedAt.toISOString();
    run.durationMs = runDurationMs(run, finishedAt);
    run.lease = null;
    await this.save();
    // Failed actions left (this run's, or earlier ones it has not cleared): the next cycle starts a run for them.
    // (No plan: the marks are as they were.)
    // Counted whenever the run read, left or wrote a mark; otherwise it knows of none (0).
    const counted = !!run.plan && (run.counts.failed > 0 || (run.plan.failedMarks ?? 1) > 0 || (run.plan.failedMarksRead ?? 1) > 0 || this.failedWritten);
    const failedUsers = !run.plan ? undefined : counted ? await deps.store.countFailedActions(tenantId, run.environmentId) : 0;
    await deps.store.releaseEnvironment(run, {
      update: (doc) => {
        if (run.batchSize !== null) doc.batchSize = run.batchSize;
        if (failedUsers !== undefined) doc.failedUsers = failedUsersAfterRun(failedUsers, counted, doc.failedUsers);
        if (state === "succeeded") {
          doc.cursor = Math.max(doc.cursor, run.targetCycle ?? 0);
          if (run.full) doc.lastFullAt = run.startedAt ?? run.finishedAt;
          // A full run counted the records; an incremental one goes on from the count as it is now (on-demand changes made meanwhile included).
          const base = (run.full ? run.plan?.enabledUsers : doc.enabledUsers) ?? run.plan?.enabledUsers ?? doc.enabledUsers ?? 0;
          doc.enabledUsers = Math.max(0, base - run.counts.disabled + run.counts.added + run.counts.reEnabled);
        }
      },
    });
    await deps.store.deletePlan(run);
    if (state === "succeeded") await this.followUp();
    const c = run.counts;
    if (state === "failed" || c.added + c.updated + c.disabled + c.reEnabled + c.drift + c.failed > 0) {
      await deps.audit.append(tenantId, {
        actor: { type: "system", id: "sync" },
        action: "sync.run",
        target: { type: "environment", id: run.environmentId },
        phase: "record",
        outcome: state === "succeeded" ? "succeeded" : "failed",
        ...(error && { reason: error }),
        context: { runId: run.runId, trigger: run.trigger, full: run.full, counts: c, directoryCycle: run.targetCycle },
      });
    }
  }
}

/** A change's outcome in its `sync.changes` audit record (the audit trail's words, and "refused" for drift). */
const CHANGE_OUTCOMES = { done: "succeeded", drift: "refused", failed: "failed" } as const satisfies Record<ActionResult["outcome"], string>;

/** How long an approved run waits between looks for the directory read it asked for. */
const APPROVAL_READ_WAIT_SECONDS = 5;

/**
 * D12: the window (and so the Dataverse $batch) size aims at a target duration from the time per
 * action observed, moving at most 4x per step, between 10 and the configured maximum.
 */
export function tuneBatchSize(current: number, windowMs: number, actions: number, targetMs: number, max: number): number {
  if (actions < Math.min(current, 10)) return current;
  const perAction = Math.max(windowMs / actions, 0.05);
  const ideal = Math.floor(targetMs / perAction);
  const stepped = Math.min(current * 4, Math.max(Math.floor(current / 4), ideal));
  return Math.max(10, Math.min(max, stepped));
}
