import type { PlannedAction } from "./decide.js";
import { environmentPartition, failedActionId, type FailedAction } from "./documents.js";
import type { SystemUserRow } from "./model.js";

/**
 * D14: default roles that a user this product added did not receive are kept in the user's
 * failed-action mark (op `assignRoles`, `roleIds`). The next run gives them (the mark makes the
 * environment's next cycle start a run even without a directory change), and so do a refresh (D9)
 * and an on-demand add of the user. A role the environment no longer names as default is dropped.
 */
export const ASSIGN_ROLES_OP = "assignRoles";

/** Per user, the roles still owed: those of its mark that are still default roles. */
export function pendingRolesOf(marks: ReadonlyMap<string, FailedAction>, defaultRoleIds: readonly string[]): Map<string, string[]> {
  const defaults = new Set(defaultRoleIds);
  const pending = new Map<string, string[]>();
  for (const [userId, mark] of marks) {
    const roleIds = (mark.roleIds ?? []).filter((r) => defaults.has(r));
    if (roleIds.length) pending.set(userId, roleIds);
  }
  return pending;
}

/** One user's roles still owed (its mark's roles that are still default roles). */
export function owedRoles(mark: FailedAction | null, defaultRoleIds: readonly string[]): string[] {
  return mark ? (pendingRolesOf(new Map([[mark.userId, mark]]), defaultRoleIds).get(mark.userId) ?? []) : [];
}

/**
 * D14: a user this product added whose default roles were not all given gets them when its record
 * stays enabled (or is re-enabled) - not when it is being disabled, or is no longer in Dataverse.
 */
export function pendingRolesAction(userId: string, row: SystemUserRow | null, action: PlannedAction | null, roleIds: readonly string[] | undefined): PlannedAction | null {
  if (!row || !roleIds?.length || action?.op === "disable" || action?.op === "add") return null;
  if (row.isdisabled && action?.op !== "reenable") return null;
  return { op: "assignRoles", userId, systemUserId: row.systemuserid, roleIds: [...roleIds] };
}

/** The mark of a user's roles not given, with the first failure's code and every failure's message. */
export function pendingRolesMark(
  tenantId: string, environmentId: string, userId: string, failures: readonly { roleId: string; code: string; message: string }[], at: string,
  runId: string | null, since?: string,
): FailedAction {
  const pk = environmentPartition(tenantId, environmentId);
  return {
    id: failedActionId(userId), type: "failed-action", tenantId, environmentId, partitionKey: pk, userId, op: ASSIGN_ROLES_OP,
    code: failures[0]?.code ?? "error", message: failures.map((f) => f.message).join("; "), since: since ?? at, lastSeenAt: at, runId,
    roleIds: [...new Set(failures.map((f) => f.roleId))],
  };
}

/**
 * What a user's failed-action mark still owes once one of its actions was answered: nothing (the
 * mark goes), or the other part - the owed roles (D14) when another action was answered, the failed
 * change when the roles were given.
 */
export function markAfterAnswer(mark: FailedAction, answeredOp: PlannedAction["op"]): FailedAction | null {
  const owesRoles = (mark.roleIds?.length ?? 0) > 0;
  if (answeredOp === "assignRoles") return mark.op !== ASSIGN_ROLES_OP ? { ...mark, roleIds: [] } : null;
  return owesRoles ? { ...mark, op: ASSIGN_ROLES_OP } : null;
}

/** D14: the roles a failed action's mark keeps owing - the failed retry's own, or those of the mark it replaces. */
export function rolesStillOwed(action: PlannedAction, existing: FailedAction | undefined): { roleIds?: string[] } {
  if (action.op === "assignRoles") return { roleIds: action.roleIds };
  return existing?.roleIds?.length ? { roleIds: existing.roleIds } : {};
}

/** A role's failure as the messages say it ("role <id>: why"); owedRolesMessage reads it back. */
export function roleFailureMessage(roleId: string, message: string): string {
  return `role ${roleId}: ${message}`;
}

/** A mark's message ("role <id>: why; role <id>: why") without the roles no longer owed (removed from the defaults). */
export function owedRolesMessage(message: string, owed: readonly string[]): string {
  const parts = message.split("; ");
  const kept = parts.filter((part) => {
    const id = /^role ([0-9a-f-]{36})/i.exec(part)?.[1]?.toLowerCase();
    return id === undefined || owed.some((r) => r.toLowerCase() === id);
  });
  return kept.length ? kept.join("; ") : message;
}
