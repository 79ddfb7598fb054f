import { randomUUID } from "node:crypto";
import { AppError } from "../errors/app-error.js";
import type { AuditLog, AuditRecord } from "../audit/audit-log.js";
import { MAX_BATCH_ITEMS } from "../clients/graph-batch.js";
import type { UserChangeLocks } from "./user-locks.js";
import { KeyedQueue } from "../concurrency/keyed-queue.js";
import { mapLimited } from "../concurrency/pool.js";
import type { GraphMode } from "../clients/graph.js";
import { auditActorOf, type AuditActor } from "./actor.js";
import type { CatalogService } from "./catalog.js";
import { licenseErrors } from "./errors.js";
import { ASSIGNMENT_USER_SELECT, type AssignLicenseCall, type AssignLicenseResult, type GraphUser, type LicensingGraph } from "./graph-licensing.js";
import { directLicenses, planNames, productIndex, statesOf } from "./license-state.js";
import type { AddLicense, BulkMode, Catalog, ChangePlan, SetPlans } from "./model.js";
import { licenseSnapshot, planChange, productRefusal, statesAfter, type LicenseChange } from "./plan.js";
import { dependsOnReadLag, READ_LAG_CODE, READ_LAG_RETRY_SECONDS, recentWrite, withRecentWrite, type RecentWrite } from "./recent-writes.js";
import type { LicenseRules, LicenseRulesStore } from "./rules.js";
import type { LicensingFailureInput } from "../alerts/alerts.js";

/**
 * THE license assignment use-case. Every license change of the product goes through here: the
 * admin endpoints (L2, L3, L4, L5, L14), the trial expiry (L11) and the auto-claim (A10).
 *
 * Contract
 * --------
 *   const assignments = (await licensing()).assignments;      // shared/licenses/composition.ts
 *
 *   assignments.assignLicenses({
 *     tenantId, actor,                  // actor: AuditActor (actorFromPrincipal(p) or systemActor("auto-claim"))
 *     userId,                           // Entra object id
 *     add?: [{ skuId, disabledPlans? }],// L3: a license the user holds directly is skipped, never re-sent
 *     remove?: [skuId],                 // L14; inherited from a group -> 409 group-inherited-license (L15)
 *     setPlans?: [{ skuId, disabledPlans }], // L5: re-send a held license with exactly these plans off
 *     reason?, context?,                // recorded in the audit trail (e.g. { policyId, eventId })
 *     graphMode?: "interactive" | "background" | "short-background", // retry budget (shared/clients/graph.ts); queues and timers use "background"
 *   }) -> Promise<AssignLicensesOutcome>   // { userId, changed, plan: {add, remove, unchanged}, intentId? }
 *
 *   Throws AppError (never half-applies: one user's change is one Graph assignLicense call):
 *     404 user-not-found; 403 guest-needs-global-administrator (L9); 409 group-inherited-license,
 *     license-not-assigned (L15); 422 unknown-product, unknown-service-plan, self-service-subscription
 *     (L10), usage-location-missing (L8), conflicting-service-plans, missing-prerequisite-plan (L6,
 *     from the rules table before Graph, or from Graph's answer), not-enough-licenses with skuId and
 *     shortBy (L7); 503 with retryAfterSeconds when Graph throttles past the budget (nothing done);
 *     502 for any other Graph error.
 *
 *   assignments.assignLicensesBulk({ tenantId, actor, changes: LicenseChange[], mode: "add"|"replace",
 *     dryRun?, reason?, context?, graphMode? })
 *     -> Promise<{ results: UserChangeResult[], shortages, retryAfterSeconds? }>
 *   Users are read and written 20 per Graph `$batch`; L7 is checked over the whole request before
 *   anything is sent (422 when short: nothing attempted); each user then succeeds or fails on its own
 *   (partial success is reported per user, never hidden). A change refused whoever its users are
 *   (unknown-product, unknown-service-plan, self-service-subscription) asked for every user throws
 *   its 422 (nothing attempted). dryRun (L17) plans and sends nothing; it refuses what the real run
 *   would refuse (422 not-enough-licenses, the refusals above).
 *
 * Audit (L16): one intent record (the requested change) is appended before anything is written to
 * Graph - while the users are read - and outcome records after: one per batch of up to 20 users
 * Graph answered, and one for the users decided before Graph was called, each with every user's old
 * and new licenses and outcome. Outcomes are written while Graph works on (those decided before
 * Graph while the first batch is sent, a batch's while the next one is sent; no batch is sent before
 * the outcome of the one before the previous is stored); the records of a request stay in order and
 * are all stored before it answers. An intent without an outcome means "in doubt". A write Graph did not
 * confirm is never recorded as succeeded.
 *
 * Alerts (L18): after a change, the catalog's new counts are checked against the tenant's
 * low-stock threshold; failures worth an admin's attention (Graph throttling past the budget,
 * Graph errors, not enough licenses, group-licensing errors seen on the users read) raise a
 * licensing-failure alert. Alerts never fail the change and wait at most ALERT_WAIT_MS for it.
 */
export interface AssignLicensesInput {
  tenantId: string;
  actor: AuditActor;
  userId: string;
  add?: readonly AddLicense[];
  remove?: readonly string[];
  setPlans?: readonly SetPlans[];
  reason?: string;
  context?: Record<string, unknown>;
  graphMode?: GraphMode;
}

export interface AssignLicensesOutcome {
  userId: string;
  /** False when there was nothing to do (everything already as asked). */
  changed: boolean;
  plan: ChangePlan;
  /** Id of the intent record in the audit trail (absent when nothing changed). */
  intentId?: string;
}

export interface BulkChangeInput {
  tenantId: string;
  actor: AuditActor;
  changes: readonly LicenseChange[];
  mode: BulkMode;
  dryRun?: boolean;
  reason?: string;
  context?: Record<string, unknown>;
  graphMode?: GraphMode;
}

export interface UserChangeResult {
  userId: string;
  outcome: "succeeded" | "failed" | "skipped";
  /** The AppError behind a failure (status, code, extensions). */
  error?: AppError;
  plan?: ChangePlan;
}

export interface Shortage {
  skuId: string;
  skuPartNumber: string;
  shortBy: number;
  available: number;
}

export interface BulkChangeOutcome<R extends UserChangeResult = UserChangeResult> {
  results: R[];
  /** L7 shortages (only a dry run reports them instead of refusing). */
  shortages: Shortage[];
  /** Longest Retry-After among users Graph throttled past the budget. */
  retryAfterSeconds?: number;
}

/** Where license administration reports what deserves an alert (shared/alerts); both never throw. */
export interface LicenseAlertSink {
  checkStock(tenantId: string, catalog: Catalog): Promise<void>;
  licensingFailure(input: LicensingFailureInput): Promise<void>;
}

export interface AssignmentDeps {
  catalog: CatalogService;
  rules: LicenseRulesStore;
  audit: AuditLog;
  graph(tenantId: string, mode: GraphMode): LicensingGraph;
  alerts?: LicenseAlertSink;
  /** A user's changes across instances (user-locks.ts); without it, only within this process. */
  locks?: UserChangeLocks;
}

const READ_PARALLELISM = 4;
/** How long a change waits for an earlier change of one of its users (see run()), by how it was asked for. */
const USER_WAIT_MS: Record<GraphMode, number> = { interactive: 20_000, "short-background": 10_000, background: 60_000 };
/** Alerts run beside the change: a request waits for them at most this long, then they finish on their own. */
const ALERT_WAIT_MS = 250;
/** Failures that deserve an alert (the admin's own input mistakes are answered, not alerted). */
/** A license change Graph did not confirm (a gateway timeout, a retry after one): it may or may not have been made. */
export const OUTCOME_UNKNOWN = "outcome-unknown";

/** An error met before anything was sent to Graph, marked so (`applied: false`, as a throttled change is). */
function nothingApplied(err: unknown): Error {
  if (!(err instanceof AppError)) return err instanceof Error ? err : new Error(String(err));
  if (err.extensions.applied === false) return err;
  return new AppError(err.kind, err.message, { code: err.code, retryAfterSeconds: err.retryAfterSeconds, extensions: { ...err.extensions, applied: false }, cause: err });
}

const ALERTED_FAILURE_CODES = new Set(["not-enough-licenses", "throttled", OUTCOME_UNKNOWN, "upstream", "unavailable"]);

export interface Prepared {
  change: LicenseChange;
  user?: GraphUser;
  plan?: ChangePlan;
  call?: AssignLicenseCall | null;
  newUnits: string[];
  freedUnits: string[];
  error?: AppError;
}

/** Graph's read lag (runNow). */
interface ReadLag {
  recent?: ReadonlyMap<string, RecentWrite> | undefined;
  written?: Map<string, RecentWrite>;
}

export class LicenseAssignments {
  /** Changes of one user wait for each other (in this process): see run(). */
  private readonly users = new KeyedQueue();

  constructor(private readonly deps: AssignmentDeps) {}

  /** One user's change (see the contract above). */
  async assignLicenses(input: AssignLicensesInput): Promise<AssignLicensesOutcome> {
    const change: LicenseChange = {
      userId: input.userId.toLowerCase(),
      ...(input.add ? { add: input.add } : {}),
      ...(input.remove ? { remove: input.remove.map((s) => s.toLowerCase()) } : {}),
      ...(input.setPlans ? { setPlans: input.setPlans } : {}),
    };
    const { results, retryAfterSeconds } = await this.run({ ...input, changes: [change], mode: "add" }, true);
    const result = results[0];
    if (!result) throw new AppError("internal", "No result for the user.");
    if (result.outcome === "failed") {
      const error = result.error ?? new AppError("internal", "The change failed.");
      if (error.kind === "unavailable" && error.retryAfterSeconds === undefined && retryAfterSeconds !== undefined) {
        throw new AppError("unavailable", error.message, { retryAfterSeconds, cause: error });
      }
      throw error;
    }
    return {
      userId: result.userId,
      changed: result.outcome === "succeeded",
      plan: result.plan ?? { add: [], remove: [], unchanged: [] },
      ...(result.intentId ? { intentId: result.intentId } : {}),
    };
  }

  /** Many users (see the contract above). */
  async assignLicensesBulk(input: BulkChangeInput): Promise<BulkChangeOutcome> {
    const { results, shortages, retryAfterSeconds } = await this.run(input, false);
    return {
      results: results.map(({ intentId: _intentId, ...r }) => r),
      shortages,
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    };
  }

  /**
   * L3: a change is planned on the user's licenses as read, then sent. Two changes of one user at
   * once would both read "not held" and both send the product: Graph keeps the second's disabled
   * plans and the first admin's choice is undone unseen. So the changes of a user run one after the
   * other, each reading the user after the one before was answered: within this process in order
   * (a queue per user), and across instances through a lock per user in Cosmos (`deps.locks`),
   * taken after this process's queue let the change through. A dry run writes nothing and waits
   * for nobody (it reads the users' recent writes without their locks).
   */
  private run(input: BulkChangeInput, single: boolean): Promise<BulkChangeOutcome<UserChangeResult & { intentId?: string }>> {
    const userIds = input.changes.map((c) => c.userId.toLowerCase());
    const { locks } = this.deps;
    // L17: a dry run plans on what recent changes wrote, as the real run would (unread: as before).
    if (input.dryRun) return (locks ? locks.recentWrites(input.tenantId, userIds).catch(() => undefined) : Promise.resolve(undefined)).then((recent) => this.runNow(input, single, { recent }));
    const keys = userIds.map((u) => `${input.tenantId.toLowerCase()}|${u}`);
    // The wait is bounded: an admin's request answers within the HTTP limit, a claim's batch goes back to its queue.
    const maxWaitMs = USER_WAIT_MS[input.graphMode ?? "interactive"];
    const deadline = Date.now() + maxWaitMs;
    return this.users.runAll(
      keys,
      async () => {
        // Not taken (another instance's change, Cosmos unavailable): nothing was sent - said so, for a claim to give its unit back at once.
        const held = locks
          ? await locks.acquire(input.tenantId, userIds, deadline).catch((err: unknown) => {
              throw nothingApplied(err);
            })
          : undefined;
        const written = new Map<string, RecentWrite>();
        try {
          return await this.runNow(input, single, { recent: held?.recent, written });
        } finally {
          await held?.release(written);
        }
      },
      {
        maxWaitMs,
        onTimeout: () => new AppError("unavailable", "Another license change of this user is still under way; nothing was changed. Try again shortly.", { retryAfterSeconds: 5, extensions: { applied: false } }),
      },
    );
  }

  /**
   * `lag.recent`: what earlier changes of these users wrote lately (recent-writes.ts), planned on
   * when Graph's read does not show it yet; `lag.written` receives what this change wrote.
   */
  private async runNow(input: BulkChangeInput, single: boolean, lag: ReadLag = {}): Promise<BulkChangeOutcome<UserChangeResult & { intentId?: string }>> {
    const graphMode = input.graphMode ?? "interactive";
    const graph = this.deps.graph(input.tenantId, graphMode);
    const changes = dedupe(input.changes);
    // The users are read while the catalog and rules are looked up (usually from memory; a refresh
    // from Graph then overlaps the read) and while the intent is written: all of it happens before
    // any write to Graph. The read goes out first, so the intent's work waits on Graph, not Graph on it.
    const lookups = Promise.all([this.deps.catalog.get(input.tenantId), this.deps.rules.current(input.tenantId)]);
    lookups.catch(() => undefined); // awaited by prepare and below
    const preparing = this.prepare(graph, changes, input, lookups, lag.recent);
    preparing.catch(() => undefined); // awaited below
    const trail = input.dryRun ? undefined : new Trail(this.deps.audit, input, changes, single);
    const intentWritten = trail?.writeIntent();
    intentWritten?.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
    let prepared: Prepared[];
    let catalog: Catalog;
    try {
      [catalog] = await lookups;
      prepared = await preparing;
    } catch (err) {
      // Nothing was attempted: close the intent (when it was written) and surface the failure.
      if (trail && intentWritten && (await intentWritten.then(() => true, () => false))) {
        const error = err instanceof AppError ? err : new AppError("upstream", "The users could not be read.", { cause: err });
        await trail.writeOutcome(changes.map((c) => ({ userId: c.userId, outcome: "failed", error })), [], "the users could not be read; nothing was attempted");
      }
      throw err;
    }

    // A change refused whoever its user is (an unknown or self-service product, a plan not part of
    // its product), asked for every user: the request is refused, nothing attempted (422, not a 207
    // with the same error for each user).
    // A product to remove is refused for the request only when no user of it holds it directly.
    const held = new Set(prepared.flatMap((p) => (p.user ? [...directLicenses(p.user).keys()] : [])));
    const refusals = changes.map((c) => productRefusal(c, catalog, held));
    const first = refusals[0];
    const refused = first && refusals.every((r) => r?.code === first.code && r.message === first.message) ? first : undefined;
    if (refused) {
      if (trail && intentWritten) {
        await intentWritten;
        await trail.writeOutcome(changes.map((c) => ({ userId: c.userId, outcome: "failed", error: refused })), prepared, `${refused.code}: nothing was attempted`);
      }
      throw refused;
    }

    // L7 over the whole request; a cached count that says "short" is checked against Graph once.
    let shortages = shortagesOf(prepared, catalog);
    if (shortages.length > 0) {
      catalog = await this.deps.catalog.get(input.tenantId, { fresh: true });
      shortages = shortagesOf(prepared, catalog);
    }
    const firstShort = shortages[0];
    const short =
      firstShort && licenseErrors.notEnoughLicenses(productIndex(catalog).get(firstShort.skuId) ?? { ...firstShort, displayName: firstShort.skuPartNumber }, firstShort.shortBy, firstShort.available);
    // L17: a dry run answers what the real run would: refused when short.
    if (short && !trail) throw short;
    if (!trail || !intentWritten) return { results: prepared.map(predicted), shortages };
    await intentWritten;

    if (short) {
      const error = short;
      const failed = changes.map((c): UserChangeResult => ({ userId: c.userId, outcome: "failed", error }));
      await Promise.all([
        trail.writeOutcome(failed, prepared, "not enough licenses: nothing was attempted"),
        this.alert(input, failed, prepared, catalog),
      ]);
      throw error;
    }

    const results = new Map<string, UserChangeResult & { intentId?: string }>();
    const settled: UserChangeResult[] = [];
    let retryAfterSeconds: number | undefined;
    const noteRetryAfter = (r: UserChangeResult) => {
      const after = r.error?.retryAfterSeconds;
      if (after !== undefined) retryAfterSeconds = Math.max(retryAfterSeconds ?? 0, after);
    };
    for (const p of prepared) {
      const r: UserChangeResult | undefined = p.error
        ? { userId: p.change.userId, outcome: "failed", error: p.error }
        : !p.call
          ? { userId: p.change.userId, outcome: "skipped", ...(p.plan ? { plan: p.plan } : {}) }
          : undefined;
      if (!r) continue;
      results.set(r.userId, { ...r, intentId: trail.intentId });
      settled.push(r);
      noteRetryAfter(r);
    }
    const toSend = prepared.filter((p) => !p.error && p.call);
    // Their outcome needs nothing from Graph: it is written while the others are sent (the trail
    // keeps its records in order, and every one is stored before the answer goes out).
    if (settled.length > 0) trail.writeOutcome(settled, prepared, "decided before Graph was called").catch(() => undefined);
    // A batch's outcome is written while the next batch is sent; a batch is only sent once the
    // outcome of the one before the previous is stored (so a failing audit trail stops the change).
    const outcomes: Promise<void>[] = [];
    for (let i = 0; i < toSend.length; i += MAX_BATCH_ITEMS) {
      const earlier = outcomes[outcomes.length - 2];
      if (earlier) await earlier;
      const { results: applied, outcome } = await this.apply(graph, input, trail, toSend.slice(i, i + MAX_BATCH_ITEMS), catalog, lag);
      outcome.catch(() => undefined); // awaited before a later batch, and through trail.written()
      outcomes.push(outcome);
      for (const r of applied) {
        results.set(r.userId, { ...r, intentId: trail.intentId });
        noteRetryAfter(r);
      }
    }
    await trail.written();
    const final = changes.map((c) => results.get(c.userId) ?? { userId: c.userId, outcome: "failed" as const, error: new AppError("internal", "No result.") });
    await this.alert(input, final, prepared, catalog);
    return {
      results: final,
      shortages: [],
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    };
  }

  /** Reads the users (20 per $batch, a few batches at a time) and plans each change once the catalog and rules are known. */
  private async prepare(
    graph: LicensingGraph, changes: readonly LicenseChange[], input: BulkChangeInput, lookups: Promise<[Catalog, LicenseRules]>, recent?: ReadonlyMap<string, RecentWrite>,
  ): Promise<Prepared[]> {
    const chunks: LicenseChange[][] = [];
    for (let i = 0; i < changes.length; i += MAX_BATCH_ITEMS) chunks.push(changes.slice(i, i + MAX_BATCH_ITEMS));
    const out = await mapLimited(chunks, READ_PARALLELISM, async (chunk) => {
      const reads = await graph.readUsers(chunk.map((ch) => ch.userId), ASSIGNMENT_USER_SELECT);
      const [catalog, rules] = await lookups;
      return chunk.map((change): Prepared => {
        const read = reads.get(change.userId);
        if (!read || !read.ok) {
          // A read Graph throttled: nothing was changed for the user, as when the change itself is throttled.
          const error = !read || read.status === 404
            ? licenseErrors.userNotFound(change.userId)
            : read.error.kind === "unavailable"
              ? licenseErrors.throttled(read.status, read.error.retryAfterSeconds ?? 5, "the user could not be read, nothing was changed for this user")
              : read.error;
          return { change, newUnits: [], freedUnits: [], error };
        }
        const user = read.user;
        const plan = (u: GraphUser) => planChange({ user: u, change, mode: input.mode, catalog, rules, actor: input.actor });
        const written = recent?.get(change.userId);
        if (written && dependsOnReadLag(user, written, plan)) {
          return { change, user, newUnits: [], freedUnits: [], error: licenseErrors.readLag(change.userId, written.at, READ_LAG_RETRY_SECONDS) };
        }
        const planned = plan(user);
        if (!planned.ok) return { change, user, newUnits: [], freedUnits: [], error: planned.error };
        return { change, user, plan: planned.plan, call: planned.call, newUnits: planned.newUnits, freedUnits: planned.freedUnits };
      });
    });
    return out.flat();
  }

  /** Up to 20 users: one $batch of assignLicense, then their outcome in the audit trail (being written when this returns). */
  private async apply(
    graph: LicensingGraph, input: BulkChangeInput, trail: Trail, chunk: readonly Prepared[], catalog: Catalog, lag: ReadLag = {},
  ): Promise<{ results: UserChangeResult[]; outcome: Promise<void> }> {
    let answers: Map<string, AssignLicenseResult>;
    const readBefore = this.deps.catalog.readSeq(input.tenantId);
    try {
      answers = await graph.assignLicenses(chunk.map((p) => p.call as AssignLicenseCall));
    } catch (err) {
      // The whole $batch failed: Graph changed nothing we know of. Record that, then surface it.
      // The counts are in doubt all the same (an answer lost on the way may hide a change).
      this.deps.catalog.invalidate(input.tenantId);
      const error = err instanceof AppError ? err : new AppError("upstream", "Microsoft Graph could not be called.", { cause: err });
      const failed = chunk.map((p): UserChangeResult => ({ userId: p.change.userId, outcome: "failed", error }));
      await Promise.all([trail.writeOutcome(failed, chunk), this.alert(input, failed, chunk, catalog)]);
      throw error;
    }
    let freshCatalog: Catalog | undefined;
    const results: UserChangeResult[] = [];
    for (const p of chunk) {
      const answer = answers.get(p.change.userId) ?? { ok: false, status: 502, code: "", message: "no answer" };
      if (answer.ok) {
        results.push({ userId: p.change.userId, outcome: "succeeded", ...(p.plan ? { plan: p.plan } : {}) });
        this.noteWrite(p, lag);
        continue;
      }
      if (answer.status === 403) freshCatalog ??= await this.deps.catalog.get(input.tenantId, { fresh: true }).catch(() => catalog);
      const error = graphFailureToError(answer, p.call as AssignLicenseCall, freshCatalog ?? catalog);
      // Not confirmed, but perhaps made: a read showing the user as before is then just as doubtful.
      if (error.code === OUTCOME_UNKNOWN) this.noteWrite(p, lag);
      results.push({ userId: p.change.userId, outcome: "failed", error, ...(p.plan ? { plan: p.plan } : {}) });
    }
    this.adjustCounts(input.tenantId, chunk, results, readBefore);
    return { results, outcome: trail.writeOutcome(results, chunk) };
  }

  /**
   * What the change wrote (or may have) for the user, for the next change's read (recent-writes.ts):
   * on the user as the change planned on it - as an earlier write left it, when the read lagged that.
   */
  private noteWrite(p: Prepared, lag: ReadLag): void {
    if (!p.user || !p.call || !lag.written) return;
    const previous = lag.recent?.get(p.change.userId);
    lag.written.set(p.change.userId, recentWrite(withRecentWrite(p.user, previous), p.call, previous));
  }

  /**
   * L18: the low-stock check on the counts after the change, and licensing-failure alerts. Waits at
   * most ALERT_WAIT_MS (the alerts finish in the background), never throws.
   */
  private async alert(input: BulkChangeInput, results: readonly UserChangeResult[], prepared: readonly Prepared[], catalog: Catalog): Promise<void> {
    const sink = this.deps.alerts;
    if (!sink) return;
    const work: Promise<void>[] = [];
    const current = this.deps.catalog.cached(input.tenantId);
    if (current && results.some((r) => r.outcome === "succeeded")) work.push(sink.checkStock(input.tenantId, current));
    const products = productIndex(current ?? catalog);
    const product = (skuId: string | undefined) => {
      const p = skuId ? products.get(skuId) : undefined;
      return skuId ? { skuId, skuPartNumber: p?.skuPartNumber ?? null, displayName: p?.displayName ?? null } : null;
    };
    const source = input.actor.type === "system" ? input.actor.id : "license-administration";
    for (const f of failuresToAlert(results, prepared)) {
      work.push(sink.licensingFailure({ tenantId: input.tenantId, source, code: f.code, message: f.message, product: product(f.skuId), userIds: f.userIds }));
    }
    for (const g of groupLicensingErrors(prepared)) {
      work.push(sink.licensingFailure({
        tenantId: input.tenantId, source: "group-licensing", code: "group-licensing-error", groupId: g.groupId, product: product(g.skuId), userIds: g.userIds,
        message: `Group-based licensing could not assign ${product(g.skuId)?.skuPartNumber ?? g.skuId} to ${g.userIds.length} user(s) from group ${g.groupId}: ${g.error}.`,
      }));
    }
    if (work.length === 0) return;
    const all = Promise.allSettled(work);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, ALERT_WAIT_MS)))]);
    clearTimeout(timer);
  }

  /** Keeps the cached catalog's counts in step (Graph stays the source of truth at its next refresh). */
  private adjustCounts(tenantId: string, chunk: readonly Prepared[], results: readonly UserChangeResult[], readBefore: number): void {
    const ok = new Set(results.filter((r) => r.outcome === "succeeded").map((r) => r.userId));
    const delta = new Map<string, number>();
    for (const p of chunk) {
      if (!ok.has(p.change.userId)) continue;
      for (const s of p.newUnits) delta.set(s, (delta.get(s) ?? 0) + 1);
      for (const s of p.freedUnits) delta.set(s, (delta.get(s) ?? 0) - 1);
    }
    // Graph refused for lack of licenses, or did not confirm a change: the counts are in doubt.
    if (results.some((r) => r.error?.code === "not-enough-licenses" || r.error?.code === OUTCOME_UNKNOWN)) this.deps.catalog.invalidate(tenantId);
    else if (delta.size) this.deps.catalog.adjustAssigned(tenantId, delta, readBefore);
  }
}

/**
 * The audit records of one request (L16): one intent before anything is written to Graph (the
 * requested change, written while the users are read), then outcomes: one per batch of users Graph
 * answered, and one for the users decided before Graph was called, each with every user's old and
 * new licenses.
 */
class Trail {
  private intent: AuditRecord | undefined;
  private pending: Promise<void> = Promise.resolve();
  private readonly target: { type: string; id: string };
  private readonly context: Record<string, unknown>;

  constructor(
    private readonly audit: AuditLog,
    private readonly input: BulkChangeInput,
    private readonly changes: readonly LicenseChange[],
    single: boolean,
  ) {
    const batchId = randomUUID();
    const userIds = changes.map((c) => c.userId);
    this.target = single ? { type: "user", id: userIds[0] ?? "" } : { type: "users", id: `batch:${batchId}` };
    this.context = { ...input.context, userIds, batchId, mode: input.mode };
  }

  get intentId(): string {
    return this.intent?.id ?? "";
  }

  async writeIntent(): Promise<void> {
    this.intent = await this.audit.append(this.input.tenantId, {
      actor: auditActorOf(this.input.actor),
      action: "license.change",
      target: this.target,
      phase: "intent",
      after: { requested: this.changes.map((c) => ({ userId: c.userId, add: c.add ?? [], remove: c.remove ?? [], setPlans: c.setPlans ?? [] })) },
      ...(this.input.reason ? { reason: this.input.reason } : {}),
      context: this.context,
    });
  }

  /** Appends an outcome record after the trail's earlier ones (records of one request stay in order). */
  writeOutcome(results: readonly UserChangeResult[], prepared: readonly Prepared[], note?: string): Promise<void> {
    const next = this.pending.then(() => this.appendOutcome(results, prepared, note));
    this.pending = next;
    return next;
  }

  /** Resolves once every record asked for is stored (rejects if one could not be). */
  written(): Promise<void> {
    return this.pending;
  }

  private async appendOutcome(results: readonly UserChangeResult[], prepared: readonly Prepared[], note?: string): Promise<void> {
    const byUser = new Map(prepared.map((p) => [p.change.userId, p]));
    // A change Graph did not confirm is recorded as unknown, not failed: it may have been made.
    const unknown = results.filter((r) => r.error?.code === OUTCOME_UNKNOWN).length;
    const failed = results.filter((r) => r.outcome === "failed").length - unknown;
    const succeeded = results.filter((r) => r.outcome === "succeeded").length;
    const reason = [
      failed > 0 ? `${failed} of ${results.length} users failed` : "",
      unknown > 0 ? `${unknown} of ${results.length} users: Graph did not confirm the change, whether it was made is not known` : "",
      note ?? "",
    ].filter(Boolean).join("; ");
    await this.audit.append(this.input.tenantId, {
      actor: auditActorOf(this.input.actor),
      action: "license.change",
      target: this.target,
      phase: "outcome",
      intentId: this.intentId,
      before: { users: results.map((r) => ({ userId: r.userId, licenses: licenseSnapshot(statesOfPrepared(byUser.get(r.userId))) })) },
      after: {
        users: results.map((r) => {
          const p = byUser.get(r.userId);
          return {
            userId: r.userId,
            outcome: r.error?.code === OUTCOME_UNKNOWN ? "unknown" : r.outcome,
            ...(r.error ? { error: { code: r.error.code, message: r.error.message } } : {}),
            ...(r.outcome === "succeeded" && p?.plan
              ? { add: p.plan.add, remove: p.plan.remove, licenses: licenseSnapshot(statesAfter(statesOfPrepared(p), p.plan)) }
              : {}),
          };
        }),
      },
      outcome: unknown > 0 ? "unknown" : failed > 0 ? "failed" : succeeded > 0 ? "succeeded" : "skipped",
      ...(reason ? { reason } : {}),
      context: { ...this.context, userIds: results.map((r) => r.userId) },
    });
  }
}

function statesOfPrepared(p: Prepared | undefined) {
  return p?.user ? statesOf(p.user) : [];
}

function dedupe(
changes: readonly LicenseChange[]): LicenseChange[] {
  const seen = new Set<string>();
  const out: LicenseChange[] = [];
  for (const c of changes) {
    const id = c.userId.toLowerCase();
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ ...c, userId: id });
  }
  return out;
}

/** Failed users grouped by error code and product, for the codes that deserve an alert. */
export function failuresToAlert(results: readonly UserChangeResult[], prepared: readonly Prepared[]): { code: string; skuId?: string; message: string; userIds: string[] }[] {
  const byUser = new Map(prepared.map((p) => [p.change.userId, p]));
  const groups = new Map<string, { code: string; skuId?: string; message: string; userIds: string[] }>();
  for (const r of results) {
    const error = r.error;
    if (r.outcome !== "failed" || !error || !(ALERTED_FAILURE_CODES.has(error.code) || error.kind === "upstream" || error.kind === "unavailable")) continue;
    if (error.code === READ_LAG_CODE) continue; // an admin's (or two claims') changes in quick succession: it clears by itself
    const named = error.extensions.skuId;
    // The product the error names, else the one the change was about (added, else removed, else plans changed).
    const change = byUser.get(r.userId)?.change;
    const skuId = typeof named === "string" ? named : (change?.add?.[0]?.skuId ?? change?.remove?.[0] ?? change?.setPlans?.[0]?.skuId);
    const key = `${error.code}|${skuId ?? ""}`;
    const group = groups.get(key) ?? { code: error.code, ...(skuId ? { skuId } : {}), message: error.message, userIds: [] };
    group.userIds.push(r.userId);
    groups.set(key, group);
  }
  return [...groups.values()];
}

/** Group-based licenses in error on the users read (L20), by group, product and error. */
function groupLicensingErrors(prepared: readonly Prepared[]): { groupId: string; skuId: string; error: string; userIds: string[] }[] {
  const groups = new Map<string, { groupId: string; skuId: string; error: string; userIds: string[] }>();
  for (const p of prepared) {
    for (const s of p.user?.licenseAssignmentStates ?? []) {
      if (!s.assignedByGroup || !s.error || s.error === "None") continue;
      const key = `${s.assignedByGroup}|${s.skuId}|${s.error}`;
      const group = groups.get(key) ?? { groupId: s.assignedByGroup, skuId: s.skuId, error: s.error, userIds: [] };
      group.userIds.push(p.change.userId);
      groups.set(key, group);
    }
  }
  return [...groups.values()];
}

function shortagesOf(prepared: readonly Prepared[], catalog: Catalog): Shortage[] {
  const needed = new Map<string, number>();
  for (const p of prepared) if (!p.error) for (const s of p.newUnits) needed.set(s, (needed.get(s) ?? 0) + 1);
  const products = productIndex(catalog);
  const out: Shortage[] = [];
  for (const [skuId, count] of needed) {
    const product = products.get(skuId);
    const available = product?.available ?? 0;
    if (count > available) out.push({ skuId, skuPartNumber: product?.skuPartNumber ?? skuId, shortBy: count - available, available });
  }
  return out;
}

function predicted(p: Prepared): UserChangeResult {
  if (p.error) return { userId: p.change.userId, outcome: "failed", error: p.error };
  return { userId: p.change.userId, outcome: p.call ? "succeeded" : "skipped", ...(p.plan ? { plan: p.plan } : {}) };
}

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/**
 * Graph's refusals of assignLicense as the same errors the checks before Graph produce (L6, L7,
 * L8, L10, L15), so a rule only Graph knew reads like one the table knew.
 */
export function graphFailureToError(answer: Extract<AssignLicenseResult, { ok: false }>, call: AssignLicenseCall, catalog: Catalog): AppError {
  const { status, message, code } = answer;
  const products = productIndex(catalog);
  const guids = (message.match(GUID) ?? []).map((g) => g.toLowerCase());
  const involved = [...call.addLicenses.map((a) => a.skuId), ...call.removeLicenses];
  if (status === 429 || status >= 500) {
    // 429 and 503 refuse the call before anything is done; any other server error (a 500, a 502 or
    // no answer in the batch, a 504 gateway timeout), also one a retry followed, leaves it unknown.
    if ((status >= 500 && status !== 503) || answer.uncertain) {
      return new AppError(
        "unavailable",
        `Microsoft Graph did not confirm the change (${status}): whether it was made for this user is not known. Read the user's licenses before trying again.`,
        { code: OUTCOME_UNKNOWN, retryAfterSeconds: answer.retryAfterSeconds ?? 5, extensions: { upstreamStatus: status } },
      );
    }
    return licenseErrors.throttled(status, answer.retryAfterSeconds ?? 5);
  }
  if (status === 404) return licenseErrors.userNotFound(call.userId);
  if (status === 403) {
    const selfService = involved.map((s) => products.get(s)).find((p) => p?.kind === "selfService");
    if (selfService) return licenseErrors.selfService(selfService);
  }
  if (status === 400) {
    const names = planNames(catalog);
    if (/available licenses/i.test(message)) {
      const skuId = guids.find((g) => products.has(g)) ?? call.addLicenses[0]?.skuId ?? "";
      const product = products.get(skuId);
      return licenseErrors.notEnoughLicenses(product ?? { skuId, skuPartNumber: skuId, displayName: skuId }, 1, 0);
    }
    if (/usage location/i.test(message)) return licenseErrors.usageLocationMissing(call.userId);
    if (/mutually exclusive/i.test(message)) return licenseErrors.conflictingPlans(guids.length ? guids : [message], names);
    if (/depends on/i.test(message) && guids[0]) return licenseErrors.missingPrerequisite(guids[0], guids.slice(1), names);
    if (/inherited from a group/i.test(message)) return licenseErrors.groupInherited(call.removeLicenses[0] ?? "", []);
    if (/does not have a corresponding license/i.test(message)) return licenseErrors.licenseNotAssigned(guids[0] ?? call.removeLicenses[0] ?? "");
    if (/does not correspond to a valid company license/i.test(message)) return licenseErrors.unknownProduct(guids[0] ?? involved[0] ?? "");
    if (/is not part of the license/i.test(message)) return licenseErrors.unknownServicePlan(guids[1] ?? involved[0] ?? "", guids[0] ?? "");
  }
  return new AppError("upstream", `Microsoft Graph refused the license change (${status} ${code}): ${message}`, {
    extensions: { upstreamStatus: status, upstreamCode: code },
  });
}
