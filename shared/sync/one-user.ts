import { z } from "zod";
import { GraphError, type Client } from "@microsoft/microsoft-graph-client";
import { graphErrorOf, sendBatch, type BatchItemResult } from "../clients/graph-batch.js";
import { mapGraphError } from "../clients/graph.js";
import { DataverseClient, isThrottled, THROTTLED_ITEM_DEFAULT_RETRY_AFTER_SECONDS, throttledRetryAfter, type BatchOperationResult } from "../clients/dataverse.js";
import type { AuditEntry } from "../audit/audit-log.js";
import { AppError } from "../errors/app-error.js";
import { associationFailure, RECORD_NOT_READABLE } from "./default-roles.js";
import type { SyncDeps } from "./deps.js";
import { PLATFORM_MANAGED_STATUS } from "./apply.js";
import { accessModeAfterAddUser } from "./decide.js";
import { readTenantFacts, stagedUserOf, USER_SELECT } from "./directory-reader.js";
import { environmentPartition, type AccessModePin, type DriftDocument, type FailedAction, type RunDocument } from "./documents.js";
import { driftLever, type DriftKind } from "./drift.js";
import { evaluateEligibility, type AddPath, type Eligibility, type RuleResult } from "./eligibility.js";
import { profilePatch } from "./fields.js";
import { ASSIGN_ROLES_OP, markAfterAnswer, owedRoles, pendingRolesMark, roleFailureMessage } from "./pending-roles.js";
import { ACCESS_MODES, type DirectoryUser, type PlatformEnvironment, type SystemUserRow, type TenantFacts } from "./model.js";
import { KeyedQueue } from "../concurrency/keyed-queue.js";
import { isDirectoryManaged, recordKind, recordKindWords } from "./records.js";
import { applyStagedUser } from "./snapshot.js";

/**
 * One user in one environment, now, from fresh data (no snapshot): what an on-demand add (D4:
 * first access or the API), a refresh (D9) and the diagnostics (D10) need. The same eligibility
 * function as the periodic sync decides.
 */
export interface UserSituation {
  user: DirectoryUser | null;
  facts: TenantFacts;
  row: SystemUserRow | null;
  eligibility: Eligibility;
  internalEmailLocked: boolean;
  drift: DriftDocument | null;
  /** D8: the access mode an admin chose for the user (the sync keeps it), if any. */
  accessModePin: AccessModePin | null;
  /** The user's failed-action mark (D14: with the default roles an earlier add did not give), if any. */
  failedAction: FailedAction | null;
}

const memberOfSchema = z.object({
  value: z.array(z.object({ id: z.string(), "@odata.type": z.string().optional() })),
  "@odata.nextLink": z.string().optional(),
});

/** The user as Entra knows it now (null when unknown or deleted) and its direct group memberships. */
async function readUser(deps: SyncDeps, tenantId: string, userId: string, clients: ClientMode): Promise<DirectoryUser | null> {
  const client = deps.graph(tenantId, clients);
  const answers = await sendBatch(client, [
    { id: "user", method: "GET", url: `/users/${userId}?$select=${USER_SELECT.join(",")}` },
    { id: "memberOf", method: "GET", url: `/users/${userId}/memberOf?$select=id` },
  ]);
  const user = answers.get("user");
  if (user?.status === 404) return readDeletedUser(client, userId);
  const staged = stagedUserOf(succeeded(user, "reading the user") as Record<string, unknown>);
  if (!staged) throw new AppError("upstream", "Microsoft Graph answered a user without an id.");
  // A failed read is not "member of no group": D2's group rule would fail and a refresh would disable the user.
  const groups = await readGroups(client, succeeded(answers.get("memberOf"), "reading the user's group memberships"));
  return { ...applyStagedUser(undefined, staged), groups: groups.sort() };
}

/**
 * A user Graph no longer lists may be soft-deleted (restorable for 30 days: D2 fails, and the lever
 * is to restore it) or gone for good (null). Soft-deleted users belong to no group.
 */
async function readDeletedUser(client: Client, userId: string): Promise<DirectoryUser | null> {
  let raw: unknown;
  try {
    raw = await client.api(`/directory/deletedItems/${userId}?$select=${USER_SELECT.join(",")}`).get();
  } catch (err) {
    if (err instanceof GraphError && err.statusCode === 404) return null;
    throw mapGraphError(err, "Microsoft Graph (deleted items)");
  }
  const item = raw as Record<string, unknown> | null;
  if (item?.["@odata.type"] !== undefined && item["@odata.type"] !== "#microsoft.graph.user") return null;
  const staged = item ? stagedUserOf(item) : null;
  if (!staged) throw new AppError("upstream", "Microsoft Graph answered a deleted item without an id.");
  return { ...applyStagedUser(undefined, staged), groups: [], removed: "soft" };
}

async function readGroups(client: Client, firstPage: unknown): Promise<string[]> {
  const groups: string[] = [];
  let page = parseMemberOf(firstPage);
  for (;;) {
    for (const o of page.value) if (!o["@odata.type"] || o["@odata.type"] === "#microsoft.graph.group") groups.push(o.id.toLowerCase());
    const next = page["@odata.nextLink"];
    if (!next) return groups;
    let raw: unknown;
    try {
      raw = await client.api(next).get();
    } catch (err) {
      throw mapGraphError(err, "Microsoft Graph (the user's group memberships)");
    }
    page = parseMemberOf(raw);
  }
}

function parseMemberOf(body: unknown): z.infer<typeof memberOfSchema> {
  const parsed = memberOfSchema.safeParse(body);
  if (!parsed.success) throw new AppError("upstream", "Microsoft Graph answered the user's group memberships with an unexpected body.", { cause: parsed.error });
  return parsed.data;
}

/**
 * D10: whether a user who is not a direct member of the group is in it through nested groups
 * (Graph's transitive memberships) - what an admin who sees the user "in the group" needs told, as
 * nested groups do not count (D2). Null when Graph cannot say: the diagnostics answer anyway.
 */
export async function memberThroughNestedGroup(deps: SyncDeps, tenantId: string, userId: string, groupId: string): Promise<boolean | null> {
  const client = deps.graph(tenantId, "interactive");
  try {
    const groups = await readGroups(client, await client.api(`/users/${userId}/transitiveMemberOf?$select=id`).get());
    return groups.includes(groupId.toLowerCase());
  } catch {
    return null;
  }
}

/**
 * The body of a batch item that succeeded; otherwise the failure in the app's taxonomy: throttled
 * or unavailable past the retry budget -> `unavailable` (503, Retry-After), anything else ->
 * `upstream` (502). Nothing is decided, and nothing written, from a read that failed.
 */
function succeeded(item: BatchItemResult | undefined, what: string): unknown {
  if (item && item.status >= 200 && item.status < 300) return item.body;
  const status = item?.status ?? 502;
  if (status === 429 || status >= 500) {
    throw new AppError("unavailable", `Microsoft Graph is throttling or unavailable (${status}) ${what}; try again later.`, { retryAfterSeconds: item?.retryAfterSeconds ?? 5 });
  }
  const { code, message } = graphErrorOf(item?.body);
  throw new AppError("upstream", `Microsoft Graph answered ${item ? status : "nothing"} ${what}: ${message || code || "no details"}`, {
    extensions: { upstreamStatus: status, upstreamCode: code },
  });
}

/** How the clients are made: "interactive" for an admin's request, "background" for queue work (D12: low throttle priority to Graph). */
export type ClientMode = "background" | "interactive";

export async function loadSituation(
  deps: SyncDeps, tenantId: string, env: PlatformEnvironment, userId: string, clients: ClientMode = "interactive", addPath?: AddPath,
): Promise<UserSituation> {
  const group = env.dataverse?.securityGroupId ?? null;
  const [user, facts] = await Promise.all([
    readUser(deps, tenantId, userId, clients),
    readTenantFacts(deps.graph(tenantId, clients), group ? [group] : []),
  ]);
  if (user) user.groups = user.groups.filter((g) => g === group);
  let row: SystemUserRow | null = null;
  let internalEmailLocked = false;
  let drift: DriftDocument | null = null;
  let accessModePin: AccessModePin | null = null;
  let failedAction: FailedAction | null = null;
  if (env.dataverse) {
    row = await deps.dataverse(tenantId, env, clients).systemUserByObjectId(userId);
    const marks = await deps.store.readMarks(tenantId, env.id, [userId]);
    internalEmailLocked = marks.locks.has(userId);
    drift = marks.drift.get(userId) ?? null;
    accessModePin = marks.pins.get(userId) ?? null;
    failedAction = marks.failed.get(userId) ?? null;
  }
  const eligibility = evaluateEligibility({ user, userId, tenant: facts, environment: env, record: row ? { kind: recordKind(row) } : null, ...(addPath && { addPath }) });
  return { user, facts, row, eligibility, internalEmailLocked, drift, accessModePin, failedAction };
}

/** The audit actor when the caller names none: the sync itself. */
const SYNC_ACTOR: AuditEntry["actor"] = { type: "system", id: "sync" };

export type OneUserOutcome = "added" | "reEnabled" | "refreshed" | "updated" | "disabled" | "unchanged";

export interface OneUserResult {
  userId: string;
  environmentId: string;
  outcome: OneUserOutcome;
  systemUserId: string | null;
  /** Set when the platform refused a change: recorded as drift, with its lever. */
  drift: { kind: DriftKind; lever: string; platform: { status: number; code: string; message: string } } | null;
  failedRules: RuleResult[];
  /** D14: default roles a user this call added did not receive, and why (also in the audit trail). */
  roleFailures: RoleFailure[];
}

export interface RoleFailure {
  roleId: string;
  code: string;
  message: string;
  /** Owed and asked again later (default-roles.ts; not part of the API answer). */
  retryable?: boolean;
}

const perUser = new KeyedQueue();

/** The code of syncOneUser's refusal when the user does not hold the license the caller expects yet (`expectLicenseSkuId`). */
export const LICENSE_NOT_VISIBLE = "license-not-visible-yet";

function notEligible(env: PlatformEnvironment, userId: string, rules: RuleResult[], onDemand: boolean): AppError {
  const failed = rules.filter((r) => !(onDemand ? r.passedOnDemand : r.passed));
  // D5: the environment's type refuses this path of adding (Dataverse for Teams: first access only) - say so first.
  const path = failed.find((r) => r.id === "D5.addPath");
  const reason = path ? `${path.lever ?? path.title} ` : "";
  // Only the way of adding is refused: the user is eligible, and joins the way the environment allows.
  const detail = path && failed.length === 1
    ? `${reason}Every other rule holds for this user (rule not met: D5.addPath; see failedRules).`
    : `${reason}The user is not eligible for environment ${env.id}; rules not met: ${failed.map((r) => r.id).join(", ")} (see failedRules).`;
  return new AppError("businessRule", detail, {
    code: "user-not-eligible",
    extensions: { userId, environmentId: env.id, failedRules: failed.map((r) => ({ id: r.id, title: r.title, data: r.data, lever: r.lever ?? null })) },
  });
}

/**
 * D4 (mode "add": an admin through the API; mode "firstAccess": the user's first access) and D9
 * (mode "refresh", an admin's). An add needs on-demand eligibility for its path (D5: Dataverse for
 * Teams environments get users only at their first access); a refresh brings an existing record in
 * line with the rules (re-enable, refresh, update, or disable - D3, with drift when the platform
 * refuses).
 */
export async function syncOneUser(
  deps: SyncDeps, tenantId: string, env: PlatformEnvironment, userId: string, mode: "add" | "firstAccess" | "refresh", defaultRoleIds: readonly string[],
  clients: ClientMode = "interactive", actor: AuditEntry["actor"] = SYNC_ACTOR, options: { expectLicenseSkuId?: string | undefined } = {},
): Promise<OneUserResult> {
  // One change of a user in an environment at a time in this process: three clicks on "add" make one add, then two "unchanged".
  const result = await perUser.run(`${tenantId}|${env.id}|${userId}`, () => changeOneUser(deps, tenantId, env, userId, mode, defaultRoleIds, clients, actor, options));
  // D13: the environment's count of enabled users (the mass-disable guard's base between full runs) follows this change.
  const delta = result.outcome === "added" || result.outcome === "reEnabled" ? 1 : result.outcome === "disabled" ? -1 : 0;
  if (delta) await deps.store.adjustEnabledUsers(tenantId, env.id, delta).catch(() => undefined); // the next full run counts anyway
  return result;
}

async function changeOneUser(
  deps: SyncDeps, tenantId: string, env: PlatformEnvironment, userId: string, mode: "add" | "firstAccess" | "refresh", defaultRoleIds: readonly string[],
  clients: ClientMode, actor: AuditEntry["actor"], options: { expectLicenseSkuId?: string | undefined },
): Promise<OneUserResult> {
  if (!env.dataverse) {
    throw new AppError("businessRule", `Environment ${env.id} has no Dataverse database: it has no users (D5).`, { code: "environment-without-dataverse" });
  }
  const adding = mode !== "refresh";
  const s = await loadSituation(deps, tenantId, env, userId, clients, mode === "firstAccess" ? "firstAccess" : "api");
  // Only where the license decides what happens: no record yet, or a disabled one (an add or a re-enable).
  const expected = options.expectLicenseSkuId?.toLowerCase();
  if (expected && s.user && (!s.row || s.row.isdisabled) && !s.user.licenses.some((l) => l.skuId.toLowerCase() === expected)) {
    throw new AppError("unavailable", `Microsoft Graph does not show the license ${expected} on user ${userId} yet.`, { code: LICENSE_NOT_VISIBLE });
  }
  const base = { userId, environmentId: env.id, drift: null, failedRules: [] as RuleResult[], roleFailures: [] as RoleFailure[] };
  if (s.row && !isDirectoryManaged(recordKind(s.row))) {
    throw new AppError("conflict", `The record of ${userId} in this environment is ${recordKindWords(recordKind(s.row))}; the directory sync never changes it (D7).`, { code: "record-not-directory-managed" });
  }
  // Nobody by that id, in Entra or in this environment: nothing to add or refresh (a wrong id, or deleted for good).
  if (!s.user && !s.row) {
    throw new AppError("notFound", `Microsoft Entra ID has no user ${userId} (deleted for good, or the id is wrong), and environment ${env.id} has no record of it.`, {
      code: "user-not-found",
      extensions: { userId },
    });
  }
  const platform = deps.platform(tenantId, clients);
  const dataverse = deps.dataverse(tenantId, env, clients);
  const owed = owedRoles(s.failedAction, defaultRoleIds);
  /** D14: the roles asked for, and what the user's mark owes afterwards. */
  const giveRoles = async (row: SystemUserRow, roleIds: readonly string[]): Promise<RoleFailure[]> => {
    const failures = await assignDefaultRoles(deps, tenantId, env, dataverse, userId, row, roleIds, actor);
    await settlePendingRoles(deps, tenantId, env.id, userId, s.failedAction, roleIds, failures);
    return failures;
  };
  const addUser = async (outcome: OneUserOutcome, kind: DriftKind): Promise<OneUserResult> => {
    const answer = await platform.addUser(env.id, userId);
    if (!answer.ok) {
      const platformError = { status: answer.status, code: answer.code, message: answer.message };
      const lever = driftLever(kind, [], env, answer.message);
      await recordDrift(deps, tenantId, env, userId, s.row?.systemuserid ?? null, kind, [], platformError, lever, s.drift);
      throw new AppError("businessRule", `The platform refused: ${answer.message || answer.code}`, {
        code: "platform-refused",
        extensions: { userId, environmentId: env.id, platform: platformError, lever },
      });
    }
    const row = await dataverse.systemUserByObjectId(userId);
    if (!row) {
      // addUser answered as done, yet Dataverse has no record: not a user added (the answer may have
      // been a failure of an unknown shape). Nothing is reported or audited as added.
      throw new AppError("upstream", `The Power Platform admin API answered addUser as done, but environment ${env.id} has no record of the user ${userId}; try again.`, {
        extensions: { userId, environmentId: env.id },
      });
    }
    // D14: a user this call added gets the default roles; a re-enabled or refreshed one those an earlier add did not give.
    const roleFailures = await giveRoles(row, outcome === "added" ? defaultRoleIds : owed);
    if (s.drift) await deps.store.deleteMany(environmentPartition(tenantId, env.id), [s.drift.id]);
    // The mode this product gives, which addUser may not have: an admin's pin (D8), administrative for an
    // admin without a license that grants access (D2). After the roles: a failure here loses no role, and
    // the next run sets the mode. A refresh sets it with the profile fields.
    const wanted = accessModeAfterAddUser(s.accessModePin?.accessMode, s.eligibility);
    if (outcome !== "refreshed" && row && recordKind(row) === "regular" && wanted !== undefined && row.accessmode !== wanted) {
      await dataverse.patchSystemUser(row.systemuserid, { accessmode: wanted });
    }
    return { ...base, outcome, systemUserId: row?.systemuserid ?? null, roleFailures };
  };

  if (!s.row || s.row.isdisabled) {
    if (s.eligibility.addOnDemand) return addUser(s.row ? "reEnabled" : "added", s.row ? "disabledButEligible" : "eligibleButNotAdded");
    if (adding || !s.row) throw notEligible(env, userId, s.eligibility.rules, true);
    return { ...base, outcome: "unchanged", systemUserId: s.row.systemuserid, failedRules: s.eligibility.rules.filter((r) => !r.passedOnDemand) };
  }
  if (!s.eligibility.keep) {
    if (adding) throw notEligible(env, userId, s.eligibility.rules, true);
    const failedRules = s.eligibility.rules.filter((r) => !r.addOnly && !r.passedOnDemand);
    const [answer] = await dataverse.batch([{ method: "PATCH", path: `systemusers(${s.row.systemuserid})`, headers: { "If-Match": "*" }, body: { isdisabled: true } }]);
    if (answer && answer.status < 300) {
      if (s.drift) await deps.store.deleteMany(environmentPartition(tenantId, env.id), [s.drift.id]);
      return { ...base, outcome: "disabled", systemUserId: s.row.systemuserid, failedRules };
    }
    // Throttled past the interactive budget: no refusal by the platform (no drift); 503 with Retry-After (D12, P5).
    if (answer && isThrottled(answer)) {
      throw new AppError("unavailable", `Dataverse is throttling or unavailable (${answer.status}); the user was not disabled. Try again later.`, {
        retryAfterSeconds: throttledRetryAfter([answer]) ?? THROTTLED_ITEM_DEFAULT_RETRY_AFTER_SECONDS, extensions: { upstreamStatus: answer.status },
      });
    }
    const error = (answer?.body as { error?: { code?: string; message?: string } } | null)?.error;
    const platformError = { status: answer?.status ?? 502, code: error?.code ?? "", message: error?.message ?? "" };
    let lever = driftLever("enabledButIneligible", failedRules.map((r) => r.id), env, platformError.message);
    // A record the platform manages, of an account disabled in Entra: the platform disables it when
    // it synchronises the user - which a refresh asks for now (D0: addUser), as the drift's lever says.
    if (platformError.code === PLATFORM_MANAGED_STATUS && failedRules.some((r) => r.id === "D2.accountEnabled")) {
      let why: string;
      try {
        const synced = await platform.addUser(env.id, userId);
        const after = synced.ok ? await dataverse.systemUserByObjectId(userId) : null;
        if (after?.isdisabled) {
          if (s.drift) await deps.store.deleteMany(environmentPartition(tenantId, env.id), [s.drift.id]);
          return { ...base, outcome: "disabled", systemUserId: after.systemuserid, failedRules };
        }
        why = !synced.ok ? `was refused: ${synced.message || synced.code}` : after ? "left it enabled" : "answered, but the record could not be read back";
      } catch (err) {
        // The refusal stands either way: it is recorded as drift, not lost to an error of the second call.
        why = `failed: ${err instanceof Error ? err.message : String(err)}`;
      }
      lever = `The user's account is disabled in Entra ID. The platform manages this record: it refused the disable, and synchronising the user (addUser) ${why}; the platform disables the record at its next directory sync.`;
    }
    await recordDrift(deps, tenantId, env, userId, s.row.systemuserid, "enabledButIneligible", failedRules.map((r) => r.id), platformError, lever, s.drift);
    return { ...base, outcome: "unchanged", systemUserId: s.row.systemuserid, failedRules, drift: { kind: "enabledButIneligible", lever, platform: platformError } };
  }
  if (adding) {
    // Already there; the default roles an earlier add did not give are given now (D14).
    if (!owed.length) return { ...base, outcome: "unchanged", systemUserId: s.row.systemuserid };
    const roleFailures = await giveRoles(s.row, owed);
    return { ...base, outcome: roleFailures.length < owed.length ? "updated" : "unchanged", systemUserId: s.row.systemuserid, roleFailures };
  }
  // Refresh: the platform refreshes what it owns, then the fields D6 maps and D8's access mode.
  const refreshed = await addUser("refreshed", "disabledButEligible");
  const row = (await dataverse.systemUserByObjectId(userId)) ?? s.row;
  if (s.user) {
    const fields = profilePatch(row, s.user, { internalEmailLocked: s.internalEmailLocked });
    const patch: Record<string, unknown> = { ...fields.patch };
    if (s.accessModePin) {
      // D8: an admin's choice stands, and addUser may just have reset it (the platform gives a licensed user read-write).
      if (row.accessmode !== ACCESS_MODES[s.accessModePin.accessMode]) patch.accessmode = ACCESS_MODES[s.accessModePin.accessMode];
    } else if (recordKind(row) === "regular" && (row.accessmode === ACCESS_MODES.readWrite || row.accessmode === ACCESS_MODES.administrative) && row.accessmode !== ACCESS_MODES[s.eligibility.accessMode]) {
      patch.accessmode = ACCESS_MODES[s.eligibility.accessMode];
    }
    if (Object.keys(patch).length) {
      await dataverse.patchSystemUser(row.systemuserid, patch);
      return { ...refreshed, outcome: "updated" };
    }
  }
  // D14: default roles an earlier add owed, given by this refresh: the record changed.
  const rolesGiven = owed.length > 0 && refreshed.roleFailures.length < owed.length;
  return rolesGiven ? { ...refreshed, outcome: "updated" } : refreshed;
}

/**
 * D14 for a user added on demand: the environment's default roles, each answer checked as the
 * periodic sync does (default-roles.ts). A role not given - the new record not readable yet,
 * Dataverse refusing the association, or the $batch failing - is returned for the caller's answer
 * and recorded in the audit trail as `assignRole` failures, the entries a periodic run records for
 * its role failures.
 */
async function assignDefaultRoles(
  deps: SyncDeps, tenantId: string, env: PlatformEnvironment, dataverse: DataverseClient, userId: string, row: SystemUserRow | null, roleIds: readonly string[],
  actor: AuditEntry["actor"],
): Promise<RoleFailure[]> {
  if (!roleIds.length) return [];
  let failures: RoleFailure[];
  if (!row) {
    failures = roleIds.map((roleId) => ({ roleId, ...RECORD_NOT_READABLE }));
  } else {
    let answers: BatchOperationResult[];
    try {
      answers = await dataverse.batch(roleIds.map((r) => DataverseClient.associateRole(dataverse.apiBase, row.systemuserid, r)));
    } catch (err) {
      const code = err instanceof AppError ? err.code : "error";
      answers = roleIds.map(() => ({ status: 502, headers: {}, body: { error: { code, message: err instanceof Error ? err.message : String(err) } } }));
    }
    failures = roleIds.flatMap((roleId, i) => {
      const failure = associationFailure(answers[i] ?? { status: 502, headers: {}, body: null });
      return failure ? [{ roleId, ...failure }] : [];
    });
  }
  if (failures.length) {
    const entries: RunDocument["failures"] = failures.map((f) => ({ userId, op: "assignRole", code: f.code, message: roleFailureMessage(f.roleId, f.message) }));
    await deps.audit.append(tenantId, {
      actor, action: "sync.user.assignRole", target: { type: "user", id: userId }, phase: "record", outcome: "failed",
      reason: `${failures.length} of ${roleIds.length} default security roles were not assigned (D14).`,
      context: { environmentId: env.id, systemUserId: row?.systemuserid ?? null, roleIds: failures.map((f) => f.roleId), failures: entries },
    });
  }
  return failures;
}

/**
 * D14: what a user's failed-action mark keeps owing after roles were asked for: the failures (the
 * environment's next run tries them again), or nothing - the mark goes, or loses its roles when it
 * is there for another failed action.
 */
async function settlePendingRoles(
  deps: SyncDeps, tenantId: string, environmentId: string, userId: string, mark: FailedAction | null, asked: readonly string[], failures: readonly RoleFailure[],
): Promise<void> {
  const pk = environmentPartition(tenantId, environmentId);
  // Owed: the roles not given for a reason that may pass (a refusal would fail the same way again).
  const owed = failures.filter((f) => f.retryable);
  if (owed.length) {
    await deps.store.upsertMarks(pk, [pendingRolesMark(tenantId, environmentId, userId, owed.map((f) => ({ ...f, message: roleFailureMessage(f.roleId, f.message) })), deps.now().toISOString(), null, mark?.since)]);
    await deps.store.noteFailedActionOutsideRun(tenantId, environmentId);
    return;
  }
  if (!mark?.roleIds?.length || !asked.length) return;
  const rest = markAfterAnswer(mark, ASSIGN_ROLES_OP);
  if (rest) await deps.store.upsertMarks(pk, [rest]);
  else await deps.store.deleteMany(pk, [mark.id]);
}

async function recordDrift(
  deps: SyncDeps, tenantId: string, env: PlatformEnvironment, userId: string, systemUserId: string | null, kind: DriftKind, failedRules: string[],
  platform: { status: number; code: string; message: string }, lever: string, existing: DriftDocument | null,
): Promise<void> {
  const pk = environmentPartition(tenantId, env.id);
  const at = deps.now().toISOString();
  await deps.store.upsertMarks(pk, [{
    id: `drift|${userId}`, type: "drift", tenantId, environmentId: env.id, partitionKey: pk, userId, systemUserId, kind, failedRules, platform, lever,
    since: existing?.since ?? at, lastSeenAt: at, runId: null,
  }]);
}
