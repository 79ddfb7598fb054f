import { roleFailureMessage } from "./pending-roles.js";
import { batchItemError, DataverseClient, isThrottled, rowsByObjectId, throttledRetryAfter, type BatchOperation, type BatchOperationResult } from "../clients/dataverse.js";
import type { PowerPlatformClient } from "../clients/power-platform.js";
import { AppError } from "../errors/app-error.js";
import type { PlannedAction } from "./decide.js";
import { associationFailure, RECORD_NOT_READABLE, type RoleAssignmentError } from "./default-roles.js";
import type { DriftKind } from "./drift.js";
import type { SystemUserRow } from "./model.js";

/**
 * Carries out planned actions through D0's levers: `addUser` for adds and re-enables (several in
 * flight), one Dataverse `$batch` for updates and disables, then D14's default roles for the users
 * added. A refusal by the platform is an outcome (drift), not an error. Throttling past the
 * chunk's deadline stops the work cleanly: the actions not done are reported back, and the run
 * continues with them in its next chunk after the Retry-After.
 */
export interface ActionResult {
  action: PlannedAction;
  outcome: "done" | "drift" | "failed";
  drift?: { kind: DriftKind; platform: { status: number; code: string; message: string } };
  failure?: { code: string; message: string };
}

export interface ExecuteOutcome {
  results: ActionResult[];
  /** Set when throttling stopped the work: wait this long before the rest. */
  deferSeconds: number | null;
  /** D14 role assignments that failed (the user was added). */
  roleFailures: AssignRoleFailure[];
  /** How long the Dataverse batch took (batch size tuning). */
  dataverseBatchMs: number | null;
  /**
   * Dataverse refused the window's `$batch` as a whole (not throttling): its updates and disables
   * are failed results, and the run ends with this error once the window's results are recorded.
   */
  fatal?: AppError;
}

export interface ExecuteContext {
  platform: PowerPlatformClient;
  dataverse: DataverseClient;
  environmentId: string;
  defaultRoleIds: readonly string[];
  concurrency: number;
  deadline: number;
}

/** The platform's answer to disabling a user it manages itself (Microsoft-hosted Dataverse). */
export const PLATFORM_MANAGED_STATUS = "0x80040225";

export async function executeActions(ctx: ExecuteContext, actions: readonly PlannedAction[]): Promise<ExecuteOutcome> {
  const platformOps = actions.filter((a) => a.op === "add" || a.op === "reenable");
  const dataverseOps = actions.filter((a) => a.op === "update" || a.op === "disable");
  const [platform, dataverse] = await Promise.all([runPlatform(ctx, platformOps), runDataverse(ctx, dataverseOps)]);
  const roles = await retryPendingRoles(ctx, actions);
  const added = platform.results.filter((r) => r.action.op === "add" && r.outcome === "done").map((r) => r.action.userId);
  // The records of the users just added: all of them for their default roles (D14), otherwise only
  // those whose access mode is set after the add (D2/D8: administrative for an admin without a license).
  const rowsWanted = ctx.defaultRoleIds.length > 0
    ? added
    : platform.results.filter((r) => r.action.op === "add" && r.outcome === "done" && r.action.accessMode !== undefined).map((r) => r.action.userId);
  const addedRows = rowsWanted.length ? rowsByObjectId(await ctx.dataverse.systemUsersByObjectIds(rowsWanted)) : new Map<string, SystemUserRow>();
  platform.results = await setAccessModesAfterAddUser(ctx, platform.results, addedRows);
  const roleFailures = ctx.defaultRoleIds.length && added.length ? await assignDefaultRoles(ctx, added, addedRows) : [];
  const defers = [platform.deferSeconds, dataverse.deferSeconds].filter((d): d is number => d !== null);
  return {
    results: [...platform.results, ...dataverse.results, ...roles],
    deferSeconds: defers.length ? Math.max(...defers) : null,
    roleFailures,
    dataverseBatchMs: dataverse.ms,
    ...(dataverse.fatal && { fatal: dataverse.fatal }),
  };
}

function deferredBy(err: unknown): number | null {
  return err instanceof AppError && err.transient ? (err.retryAfterSeconds ?? 5) : null;
}

async function runPlatform(ctx: ExecuteContext, actions: PlannedAction[]): Promise<{ results: ActionResult[]; deferSeconds: number | null }> {
  const results: ActionResult[] = [];
  let deferSeconds: number | null = null;
  let next = 0;
  const worker = async () => {
    while (deferSeconds === null && next < actions.length) {
      const action = actions[next++];
      if (!action) break;
      try {
        const answer = await ctx.platform.addUser(ctx.environmentId, action.userId, ctx.deadline);
        if (answer.ok) results.push({ action, outcome: "done" });
        else {
          results.push({
            action,
            outcome: "drift",
            drift: { kind: action.op === "add" ? "eligibleButNotAdded" : "disabledButEligible", platform: { status: answer.status, code: answer.code, message: answer.message } },
          });
        }
      } catch (err) {
        const defer = deferredBy(err);
        if (defer !== null) {
          deferSeconds = Math.max(deferSeconds ?? 0, defer);
          break;
        }
        results.push({ action, outcome: "failed", failure: { code: err instanceof AppError ? err.code : "error", message: err instanceof Error ? err.message : String(err) } });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(ctx.concurrency, actions.length) }, worker));
  return { results, deferSeconds };
}

/**
 * addUser sets the access mode the platform decides (read-write for anyone it counts as licensed),
 * which is not always this product's: a re-enabled user whose mode an admin pinned gets the pin back
 * (D8), an added admin without a license that grants access gets administrative (D2) - at once, not
 * a run later. If that fails, the action counts as failed: the next run looks at the user again and
 * sets the mode (decide.ts).
 */
async function setAccessModesAfterAddUser(ctx: ExecuteContext, results: ActionResult[], addedRows: ReadonlyMap<string, SystemUserRow>): Promise<ActionResult[]> {
  const wanted = results.flatMap((r, i) => {
    if (r.outcome !== "done" || (r.action.op !== "reenable" && r.action.op !== "add") || r.action.accessMode === undefined) return [];
    const row = r.action.op === "add" ? addedRows.get(r.action.userId.toLowerCase()) : undefined;
    if (r.action.op === "add" && row?.accessmode === r.action.accessMode) return [];
    const systemUserId = r.action.op === "reenable" ? r.action.systemUserId : row?.systemuserid;
    return [{ i, action: r.action, systemUserId, accessMode: r.action.accessMode }];
  });
  if (!wanted.length) return results;
  const writable = wanted.filter((w) => w.systemUserId !== undefined);
  let answers: BatchOperationResult[] = [];
  try {
    if (writable.length) {
      answers = await ctx.dataverse.batch(writable.map((w) => ({ method: "PATCH", path: `systemusers(${w.systemUserId})`, headers: { "If-Match": "*" }, body: { accessmode: w.accessMode } })));
    }
  } catch (err) {
    if (err instanceof AppError && err.transient) throw err; // throttled: the window is repeated after its Retry-After (every lever here is idempotent)
    const error = { code: err instanceof AppError ? err.code : "error", message: err instanceof Error ? err.message : String(err) };
    answers = writable.map(() => ({ status: 502, headers: {}, body: { error } }));
  }
  const retryAfterSeconds = throttledRetryAfter(answers.slice(0, writable.length));
  if (retryAfterSeconds !== null) throw new AppError("unavailable", "Dataverse is throttling the access modes set after addUser; they are retried after its Retry-After.", { retryAfterSeconds });
  const out = [...results];
  for (const w of wanted) {
    const j = writable.indexOf(w);
    const answer = j < 0 ? { status: 404, headers: {}, body: { error: { code: RECORD_NOT_READABLE.code, message: RECORD_NOT_READABLE.message } } } : (answers[j] ?? { status: 502, headers: {}, body: null });
    if (answer.status >= 200 && answer.status < 300) continue;
    const error = batchItemError(answer);
    const what = w.action.op === "reenable" ? "Re-enabled, but the access mode an admin pinned was not set again" : "Added, but its access mode was not set";
    out[w.i] = { action: w.action, outcome: "failed", failure: { code: error.code || String(answer.status), message: `${what}: ${error.message}` } };
  }
  return out;
}

async function runDataverse(ctx: ExecuteContext, actions: PlannedAction[]): Promise<{ results: ActionResult[]; deferSeconds: number | null; ms: number | null; fatal?: AppError }> {
  if (!actions.length) return { results: [], deferSeconds: null, ms: null };
  const ops: BatchOperation[] = actions.map((a) => ({
    method: "PATCH",
    path: `systemusers(${a.op === "update" || a.op === "disable" ? a.systemUserId : ""})`,
    // If-Match: * = update only; a PATCH never creates a record.
    headers: { "If-Match": "*" },
    body: a.op === "disable" ? { isdisabled: true } : a.op === "update" ? a.patch : {},
  }));
  const started = Date.now();
  let answers;
  try {
    answers = await ctx.dataverse.batch(ops);
  } catch (err) {
    const defer = deferredBy(err);
    if (defer !== null) return { results: [], deferSeconds: defer, ms: null };
    // Refused as a whole: each of its users' changes failed (counted, named in the run's failures and
    // tried again by a later run), and the adds made beside it are kept as they are.
    const fatal = err instanceof AppError ? err : new AppError("upstream", `The Dataverse $batch failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    const failure = { code: fatal.code, message: fatal.message };
    return { results: actions.map((action) => ({ action, outcome: "failed", failure })), deferSeconds: null, ms: null, fatal };
  }
  const ms = Date.now() - started;
  const results: ActionResult[] = [];
  // Items still throttled after the batch's own retries: not done (a throttled disable is no
  // refusal, so no drift), tried in the next chunk after the longest Retry-After they carry.
  for (const [i, action] of actions.entries()) {
    const answer = answers[i] ?? { status: 502, headers: {}, body: null };
    if (isThrottled(answer)) continue;
    if (answer.status >= 200 && answer.status < 300) {
      results.push({ action, outcome: "done" });
      continue;
    }
    const error = batchItemError(answer);
    if (action.op === "disable" && answer.status >= 400 && answer.status < 500 && answer.status !== 404) {
      results.push({ action, outcome: "drift", drift: { kind: "enabledButIneligible", platform: { status: answer.status, ...error } } });
      continue;
    }
    results.push({ action, outcome: "failed", failure: { code: error.code || String(answer.status), message: error.message } });
  }
  return { results, deferSeconds: throttledRetryAfter(answers.slice(0, actions.length)), ms };
}

/** A D14 role a user this product added did not receive (the run's `assignRole` failures). */
export interface AssignRoleFailure {
  userId: string;
  roleId: string;
  code: string;
  message: string;
  /** Owed, and asked again by the next run (a refusal is not: default-roles.ts). */
  retryable: boolean;
}

/**
 * D14: the environment's default security roles for users this product added. A user whose new
 * record cannot be read yet gets none, and each of its roles is a failure (kept in a failed-action
 * mark: the next run gives it). A read throttled past the budget throws `unavailable` (transient),
 * and so does an association still throttled: the window is repeated after the Retry-After, and its
 * levers are idempotent (addUser, an association that already exists).
 */
export async function assignDefaultRoles(
  ctx: Pick<ExecuteContext, "dataverse" | "defaultRoleIds">, userIds: readonly string[], readRows?: ReadonlyMap<string, SystemUserRow>,
): Promise<AssignRoleFailure[]> {
  const rows = readRows ?? rowsByObjectId(await ctx.dataverse.systemUsersByObjectIds(userIds));
  const failures: AssignRoleFailure[] = [];
  const wanted: RoleAssociation[] = [];
  for (const userId of userIds) {
    const row = rows.get(userId.toLowerCase());
    for (const roleId of ctx.defaultRoleIds) {
      if (row) wanted.push({ userId, systemUserId: row.systemuserid, roleId });
      else failures.push({ userId, roleId, ...RECORD_NOT_READABLE, message: roleFailureMessage(roleId, RECORD_NOT_READABLE.message) });
    }
  }
  return [...failures, ...(await associateRoles(ctx.dataverse, wanted))];
}

interface RoleAssociation {
  userId: string;
  systemUserId: string;
  roleId: string;
}

/** Role associations in `$batch`es of 500; the failures, each with its role. Throttling past the batch's retries throws `unavailable`. */
async function associateRoles(dataverse: DataverseClient, wanted: readonly RoleAssociation[]): Promise<AssignRoleFailure[]> {
  const failures: AssignRoleFailure[] = [];
  for (let i = 0; i < wanted.length; i += 500) {
    const slice = wanted.slice(i, i + 500);
    const answers = await dataverse.batch(slice.map((w) => DataverseClient.associateRole(dataverse.apiBase, w.systemUserId, w.roleId)));
    // Still throttled after the batch's own retries: no refusal of the role, so no failure to record;
    // the window is repeated after the Retry-After (addUser and associations are idempotent).
    const retryAfterSeconds = throttledRetryAfter(answers.slice(0, slice.length));
    if (retryAfterSeconds !== null) {
      throw new AppError("unavailable", "Dataverse is throttling the default security role assignments; they are retried after its Retry-After.", { retryAfterSeconds });
    }
    slice.forEach((w, j) => {
      const failure: RoleAssignmentError | null = associationFailure(answers[j] ?? { status: 502, headers: {}, body: null });
      if (failure) failures.push({ userId: w.userId, roleId: w.roleId, code: failure.code, message: roleFailureMessage(w.roleId, failure.message), retryable: failure.retryable });
    });
  }
  return failures;
}

/**
 * D14 again: default roles an earlier add did not give (failed-action marks). Done when every role
 * is there (an association that exists counts); failed otherwise - the mark stays for the next run.
 */
async function retryPendingRoles(ctx: ExecuteContext, actions: readonly PlannedAction[]): Promise<ActionResult[]> {
  const pending = actions.filter((a): a is Extract<PlannedAction, { op: "assignRoles" }> => a.op === "assignRoles");
  if (!pending.length) return [];
  let failures: AssignRoleFailure[];
  try {
    failures = await associateRoles(ctx.dataverse, pending.flatMap((a) => a.roleIds.map((roleId) => ({ userId: a.userId, systemUserId: a.systemUserId, roleId }))));
  } catch (err) {
    if (err instanceof AppError && err.transient) throw err;
    const failure = { code: err instanceof AppError ? err.code : "error", message: err instanceof Error ? err.message : String(err) };
    return pending.map((action) => ({ action, outcome: "failed", failure }));
  }
  return pending.map((action): ActionResult => {
    const mine = failures.filter((f) => f.userId === action.userId);
    if (!mine.length) return { action, outcome: "done" };
    return { action, outcome: "failed", failure: { code: mine[0]?.code ?? "error", message: mine.map((f) => f.message).join("; ") } };
  });
}
