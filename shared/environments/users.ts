import type { z } from "zod";
import type { Principal } from "../auth/token-validator.js";
import { AppError, notFound } from "../errors/app-error.js";
import { decodeCursor, encodeCursor } from "../http/conventions.js";
import type { SyncDeps } from "../sync/deps.js";
import { decide } from "../sync/decide.js";
import { accessModePinId, environmentPartition, type AccessModePin, type DriftDocument } from "../sync/documents.js";
import { environmentPolicy } from "../sync/environment-types.js";
import { owedRoles, owedRolesMessage, pendingRolesAction } from "../sync/pending-roles.js";
import { ACCESS_MODES, accessModeName, type AccessMode, type SystemUserRow } from "../sync/model.js";
import { loadSituation, memberThroughNestedGroup, syncOneUser, type OneUserResult } from "../sync/one-user.js";
import { MAX_NON_INTERACTIVE_USERS, recordKind, recordKindWords } from "../sync/records.js";
import { actorOf, requireDataverse, requireEnvironment } from "./environments.js";
import type { accessModePinApiSchema, diagnosticsSchema, driftApiSchema, environmentUserSchema, oneUserResultSchema } from "./schemas.js";

type UserView = z.infer<typeof environmentUserSchema>;

/**
 * D0: a drift the record itself no longer shows (the platform did meanwhile what it refused this
 * product: disabled, re-enabled or added the user) is not shown; the next run removes it.
 */
function stillDrifting(d: DriftDocument | undefined | null, row: SystemUserRow | null): DriftDocument | null {
  if (!d) return null;
  if (d.kind === "enabledButIneligible" && row?.isdisabled) return null;
  if ((d.kind === "disabledButEligible" || d.kind === "eligibleButNotAdded") && row && !row.isdisabled) return null;
  return d;
}

function driftView(d: DriftDocument | undefined | null): z.infer<typeof driftApiSchema> | null {
  return d ? { kind: d.kind, failedRules: d.failedRules, lever: d.lever, platform: d.platform, since: d.since, lastSeenAt: d.lastSeenAt } : null;
}

function pinView(p: AccessModePin | undefined | null): z.infer<typeof accessModePinApiSchema> | null {
  return p ? { accessMode: p.accessMode, pinnedBy: p.pinnedBy, pinnedAt: p.pinnedAt } : null;
}

const unpinLever = (envId: string, userId: string) =>
  `An admin chose this access mode (D8), so the sync keeps it (and sets it again if something resets it). To let the license decide again (read-write, or administrative for an admin without a license), PATCH …/environments/${envId}/users/${userId} with {"accessMode": null}, which sets it at once.`;

export function userView(row: SystemUserRow, drift: DriftDocument | undefined | null, pin: AccessModePin | undefined | null = null): UserView {
  return {
    systemUserId: row.systemuserid,
    userId: row.azureactivedirectoryobjectid?.toLowerCase() ?? null,
    domainName: row.domainname,
    fullName: row.fullname,
    status: row.isdisabled ? "disabled" : "enabled",
    accessMode: accessModeName(row.accessmode),
    type: recordKind(row),
    applicationId: row.applicationid?.toLowerCase() ?? null,
    accessModePin: pinView(pin),
    drift: driftView(stillDrifting(drift, row)),
  };
}

/** The environment's records, a Dataverse page at a time (the cursor carries Dataverse's skip token, never a URL). */
export async function listEnvironmentUsers(
  deps: SyncDeps, tenantId: string, environmentId: string, query: { limit: number; cursor?: string | undefined; status?: "enabled" | "disabled" | undefined },
) {
  const env = await requireEnvironment(deps, tenantId, environmentId);
  requireDataverse(env);
  const filter = { environmentId: env.id, status: query.status ?? "all" };
  const skipToken = decodeCursor(query.cursor, tenantId, filter) ?? null;
  const page = await deps.dataverse(tenantId, env, "interactive")
    .listSystemUsers({ pageSize: query.limit, skipToken, ...(query.status && { filter: `isdisabled eq ${query.status === "disabled"}` }) })
    .catch((err: unknown) => {
      // Dataverse refusing the paging cookie a cursor carried (stale, or not one it issued): the cursor is the bad input.
      if (skipToken && err instanceof AppError && err.kind === "upstream" && err.extensions.upstreamStatus === 400) {
        throw new AppError("validation", "The cursor is not valid for this list (any more): start again without it.", { errors: [{ path: "cursor", message: "refused by Dataverse" }] });
      }
      throw err;
    });
  const ids = page.rows.flatMap((r) => (r.azureactivedirectoryobjectid ? [r.azureactivedirectoryobjectid.toLowerCase()] : []));
  const { drift, pins } = await deps.store.readMarks(tenantId, env.id, ids);
  const idOf = (r: SystemUserRow) => r.azureactivedirectoryobjectid?.toLowerCase() ?? "";
  return {
    items: page.rows.map((r) => userView(r, drift.get(idOf(r)), pins.get(idOf(r)))),
    nextCursor: page.skipToken ? encodeCursor(tenantId, filter, page.skipToken) : null,
  };
}

function resultView(r: OneUserResult): z.infer<typeof oneUserResultSchema> {
  return {
    ...r,
    failedRules: r.failedRules.map((f) => ({ id: f.id, title: f.title, lever: f.lever ?? null })),
    roleFailures: r.roleFailures.map((f) => ({ roleId: f.roleId, code: f.code, message: f.message })),
  };
}

const AUDITED_FAILURES = new Set<AppError["kind"]>(["businessRule", "conflict", "upstream", "unavailable", "tooManyRequests"]);

/** D4 (add) and D9 (refresh), by an admin: not automatic, so the pause switch does not hold them. */
export async function changeOneUser(deps: SyncDeps, tenantId: string, environmentId: string, userId: string, mode: "add" | "refresh", principal: Principal) {
  const env = await requireEnvironment(deps, tenantId, environmentId);
  const settings = await deps.settings.get(tenantId, env.id);
  let result: OneUserResult;
  try {
    result = await syncOneUser(deps, tenantId, env, userId, mode, settings.value.defaultSecurityRoleIds, "interactive", actorOf(principal));
  } catch (err) {
    // An attempt refused by a rule or failed at Microsoft is audited as failed (P9); one that never
    // started (unknown user or environment) is not. The audit write's own failure hides nothing.
    if (err instanceof AppError && AUDITED_FAILURES.has(err.kind)) {
      await deps.audit
        .append(tenantId, {
          actor: actorOf(principal), action: `environment.user.${mode}`, target: { type: "user", id: userId }, phase: "record", outcome: "failed", reason: err.message,
          context: { environmentId: env.id, code: err.code },
        })
        .catch(() => undefined);
    }
    throw err;
  }
  await deps.audit.append(tenantId, {
    actor: actorOf(principal), action: `environment.user.${mode}`, target: { type: "user", id: userId }, phase: "record",
    outcome: result.outcome === "unchanged" && !result.drift ? "skipped" : result.drift ? "failed" : "succeeded",
    context: { environmentId: env.id, outcome: result.outcome, systemUserId: result.systemUserId, drift: result.drift?.kind ?? null },
  });
  return resultView(result);
}

/**
 * D10: a user who is not a direct member of the environment's group may be in it through a nested
 * group - "but they are in the group" is the question the diagnostics answer: the group rule's data
 * says so (`memberThroughNestedGroup`), and its lever that such membership does not count.
 */
async function withNestedMembership<R extends { id: string; passed: boolean; data: Record<string, unknown>; lever?: string }>(
  deps: SyncDeps, tenantId: string, userId: string, userFound: boolean, rules: R[],
): Promise<R[]> {
  const rule = rules.find((r) => r.id === "D2.securityGroup");
  const groupId = rule?.data.securityGroupId;
  if (!userFound || !rule || rule.passed || typeof groupId !== "string" || rule.data.directMember !== false) return rules;
  const nested = await memberThroughNestedGroup(deps, tenantId, userId, groupId);
  const lever = nested && rule.lever ? `The user is in group ${groupId} only through a nested group, which does not count (D2). ${rule.lever}` : rule.lever;
  return rules.map((r) => (r === rule ? { ...r, data: { ...r.data, memberThroughNestedGroup: nested }, ...(lever ? { lever } : {}) } : r));
}

/** D10: every rule with its data and lever, and what the periodic sync would do. */
export async function diagnose(deps: SyncDeps, tenantId: string, environmentId: string, userId: string): Promise<z.infer<typeof diagnosticsSchema>> {
  const env = await requireEnvironment(deps, tenantId, environmentId);
  const s = await loadSituation(deps, tenantId, env, userId);
  const kind = s.row ? recordKind(s.row) : null;
  const managed = kind === null || kind === "regular" || kind === "nonInteractive";
  const decision = managed
    ? decide({ userId, user: s.user, row: s.row, eligibility: s.eligibility, internalEmailLocked: s.internalEmailLocked, accessModePin: s.accessModePin?.accessMode ?? null })
    : null;
  const settings = await deps.settings.get(tenantId, env.id);
  const owed = owedRoles(s.failedAction, settings.value.defaultSecurityRoleIds);
  const rolesOwed = managed && pendingRolesAction(userId, s.row, decision?.action ?? null, owed) !== null;
  const expected = !managed ? "notManaged" : decision?.action?.op ?? (rolesOwed ? "assignRoles" : "none");
  const pin = pinView(s.accessModePin);
  const judged = !managed
    ? `${capitalized(recordKindWords(kind ?? "regular"))}: the directory sync never changes it (D7).`
    : decision?.action
      ? `The periodic sync would ${decision.action.op} this user.${rolesOwed ? " It would also give the default roles an earlier add did not (see pendingRoles)." : ""}`
      : rolesOwed
        ? "The periodic sync would give the default roles an earlier add did not (see pendingRoles)."
      : decision?.skipped
        ? `Nothing in the periodic sync: ${decision.skipped}.`
        : s.row
          ? `The record matches the rules.${s.accessModePin ? " Its access mode is pinned by an admin (see accessModePin)." : ""}`
          : "The user is not eligible for this environment; see the failed rules and their levers.";
  // Off, this product does not manage the environment: what the rules say happens only once it is on.
  const explanation = settings.value.syncEnabled || !managed
    ? judged
    : `The sync is off for this environment: neither the periodic sync nor a first access adds or changes anyone here (turn it on: PATCH /api/tenants/${tenantId}/environments/${env.id} with {"syncEnabled": true}; an admin can still add the user with POST /api/tenants/${tenantId}/environments/${env.id}/users). Once on: ${judged.charAt(0).toLowerCase()}${judged.slice(1)}`;
  return {
    userId,
    environmentId: env.id,
    environment: {
      type: env.type, hasDataverse: env.dataverse !== null, securityGroupId: env.dataverse?.securityGroupId ?? null, syncEnabled: settings.value.syncEnabled, summary: environmentPolicy(env).summary,
    },
    user: {
      found: s.user !== null && !s.user.removed,
      userPrincipalName: s.user?.upn ?? null,
      accountEnabled: s.user?.accountEnabled ?? null,
      userType: s.user?.userType ?? null,
      adminRoles: s.eligibility.adminRoles,
    },
    record: s.row
      ? { systemUserId: s.row.systemuserid, status: s.row.isdisabled ? "disabled" : "enabled", accessMode: accessModeName(s.row.accessmode), type: recordKind(s.row) }
      : null,
    verdict: {
      addInBackground: s.eligibility.addInBackground,
      addOnDemand: s.eligibility.addOnDemand,
      keepEnabled: s.eligibility.keep,
      accessMode: s.eligibility.accessMode,
      expected,
      explanation,
    },
    rules: (await withNestedMembership(deps, tenantId, userId, s.user !== null && !s.user.removed, s.eligibility.rules)).map((r) => ({ ...r, addOnly: r.addOnly ?? false, exception: r.exception ?? null, lever: r.lever ?? null })),
    accessModePin: pin && { ...pin, lever: unpinLever(env.id, userId) },
    // What the sync would still do keeps a drift; a record that matches the rules has none (left over until the next run removes it).
    drift: driftView(expected === "none" || expected === "notManaged" ? null : stillDrifting(s.drift, s.row)),
    pendingRoles: rolesOwed && s.failedAction
      ? {
          roleIds: owed, code: s.failedAction.code, message: owedRolesMessage(s.failedAction.message, owed), since: s.failedAction.since, lastSeenAt: s.failedAction.lastSeenAt,
          lever: `The next sync run gives them; to give them now, refresh the user (POST /api/tenants/${tenantId}/environments/${env.id}/users/${userId}/refresh).`,
        }
      : null,
  };
}

/**
 * D8: an admin sets a user's access mode and so pins it: the license decides the default, an
 * admin's choice stands (the sync keeps a pinned mode). `null` unpins it and sets the mode the
 * license decides. D7's limit of 7 non-interactive users is a 409.
 */
export async function setAccessMode(deps: SyncDeps, tenantId: string, environmentId: string, userId: string, accessMode: AccessMode | null, principal: Principal) {
  const env = await requireEnvironment(deps, tenantId, environmentId);
  requireDataverse(env);
  const dataverse = deps.dataverse(tenantId, env, "interactive");
  const row = await dataverse.systemUserByObjectId(userId);
  if (!row) throw notFound(`User ${userId} in environment ${env.id}`);
  const kind = recordKind(row);
  if (kind !== "regular" && kind !== "nonInteractive") {
    throw new AppError("conflict", `The record is ${recordKindWords(kind)}; its access mode is not changed here (D7).`, { code: "record-not-directory-managed" });
  }
  const marks = await deps.store.readMarks(tenantId, env.id, [userId]);
  const pinned = marks.pins.get(userId) ?? null;
  const drift = marks.drift.get(userId) ?? null;
  if (accessMode === null) {
    if (!pinned) return userView(row, drift, null);
    // The license decides again, now: the sync itself switches only between read-write and
    // administrative, so a pinned non-interactive or read mode would otherwise stay. Set before the
    // pin goes: should unpinning fail, the pin still stands and a retry finishes it.
    let current = row;
    if (row.accessmode === ACCESS_MODES[pinned.accessMode]) {
      const licensed = ACCESS_MODES[(await loadSituation(deps, tenantId, env, userId)).eligibility.accessMode];
      if (licensed !== row.accessmode) {
        await dataverse.patchSystemUser(row.systemuserid, { accessmode: licensed });
        current = { ...row, accessmode: licensed };
      }
    }
    await unpin(deps, tenantId, env.id, pinned, principal, row.systemuserid);
    return userView(current, drift, null);
  }
  const target = ACCESS_MODES[accessMode];
  if (target === row.accessmode && pinned?.accessMode === accessMode) return userView(row, drift, pinned);
  if (target !== row.accessmode) {
    if (target === ACCESS_MODES.nonInteractive) {
      const count = await dataverse.countNonInteractiveUsers();
      if (count >= MAX_NON_INTERACTIVE_USERS) throw nonInteractiveLimit(count);
    }
    try {
      await dataverse.patchSystemUser(row.systemuserid, { accessmode: target });
    } catch (err) {
      // The platform counts too: its refusal of an 8th is the same conflict.
      if (err instanceof AppError && /0x80044331|non-interactive/i.test(err.message) && target === ACCESS_MODES.nonInteractive) throw nonInteractiveLimit(MAX_NON_INTERACTIVE_USERS);
      throw err;
    }
  }
  // Pinned after Dataverse took the mode: a failed PATCH leaves no pin of a mode the record does not have.
  const pk = environmentPartition(tenantId, env.id);
  const pin: AccessModePin = {
    id: accessModePinId(userId), type: "access-mode-pin", tenantId, environmentId: env.id, partitionKey: pk, userId, accessMode,
    pinnedBy: principal.objectId, pinnedAt: deps.now().toISOString(),
  };
  await deps.store.upsertMarks(pk, [pin]);
  await deps.audit.append(tenantId, {
    actor: actorOf(principal), action: "environment.user.accessMode", target: { type: "user", id: userId }, phase: "record", outcome: "succeeded",
    before: { accessMode: accessModeName(row.accessmode), pinned: pinned !== null }, after: { accessMode, pinned: true },
    context: { environmentId: env.id, systemUserId: row.systemuserid },
  });
  const updated = target === row.accessmode ? row : ((await dataverse.getSystemUser(row.systemuserid)) ?? { ...row, accessmode: target });
  return userView(updated, drift, pin);
}

async function unpin(deps: SyncDeps, tenantId: string, environmentId: string, pin: AccessModePin, principal: Principal, systemUserId: string): Promise<void> {
  await deps.store.deleteMany(environmentPartition(tenantId, environmentId), [pin.id]);
  await deps.audit.append(tenantId, {
    actor: actorOf(principal), action: "environment.user.accessMode", target: { type: "user", id: pin.userId }, phase: "record", outcome: "succeeded",
    before: { accessMode: pin.accessMode, pinned: true, pinnedBy: pin.pinnedBy, pinnedAt: pin.pinnedAt }, after: { pinned: false },
    context: { environmentId, systemUserId },
  });
}

function nonInteractiveLimit(count: number): AppError {
  return new AppError("conflict", `An environment can have at most ${MAX_NON_INTERACTIVE_USERS} non-interactive users; this one has ${count} (application users do not count).`, {
    code: "non-interactive-limit",
    extensions: { limit: MAX_NON_INTERACTIVE_USERS, current: count },
  });
}

const capitalized = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
