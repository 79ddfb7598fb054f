import type { Eligibility, RuleId } from "./eligibility.js";
import { profilePatch } from "./fields.js";
import { ACCESS_MODES, type AccessMode, type DirectoryUser, type SystemUserRow } from "./model.js";
import { isDirectoryManaged, recordKind } from "./records.js";

/**
 * What the periodic sync does for one user in one environment: a pure decision from the user's
 * eligibility and its systemuser record. Changes reach Dataverse only through D0's levers:
 * `addUser` (Power Platform admin API) to add or re-enable, a Web API PATCH for changed profile
 * fields and access mode, and a Web API PATCH to disable (D3: disable, never delete).
 */
export type PlannedAction =
  /** accessMode: set after addUser when it is not what the platform gives (accessModeAfterAddUser). */
  | { op: "add"; userId: string; accessMode?: number }
  /** accessMode: set again after addUser, which resets the record's mode (accessModeAfterAddUser). */
  | { op: "reenable"; userId: string; systemUserId: string; accessMode?: number }
  | { op: "update"; userId: string; systemUserId: string; patch: Record<string, string | number | null> }
  | { op: "disable"; userId: string; systemUserId: string; failedRules: RuleId[] }
  /** D14: default roles this product's add of the user did not give (a failed-action mark), tried again. */
  | { op: "assignRoles"; userId: string; systemUserId: string; roleIds: string[] };

export interface Decision {
  action: PlannedAction | null;
  /** Counted as skipped, with why (e.g. eligible, but this environment type adds users only on demand). */
  skipped?: string;
  /** D6: the internal email was edited in Dataverse; never write it again for this user. */
  lockInternalEmail: boolean;
}

export interface Situation {
  userId: string;
  user: DirectoryUser | null;
  row: SystemUserRow | null;
  eligibility: Eligibility;
  internalEmailLocked: boolean;
  /** D8: the access mode an admin chose for this user (an access-mode pin): the license no longer decides it. */
  accessModePin?: AccessMode | null;
  /**
   * D4: the snapshot has never seen the user, and the record was created after the users read the
   * snapshot comes from: a user created since (and added on demand), not a deleted one. The next
   * cycle knows the user; until then the record is left alone.
   */
  recordNewerThanSnapshot?: boolean;
}

/**
 * The access mode to set right after `addUser` (which gives anyone it counts as licensed
 * read-write), or undefined for what addUser gives: an admin's pin (D8), else administrative for an
 * admin without a license that grants access (D2). One rule for the periodic sync's adds and
 * re-enables and for on-demand adds, re-enables and refreshes.
 */
export function accessModeAfterAddUser(pin: AccessMode | null | undefined, e: Eligibility): number | undefined {
  if (pin) return ACCESS_MODES[pin];
  return e.accessMode === "administrative" ? ACCESS_MODES.administrative : undefined;
}

export function failedKeepRules(e: Eligibility): RuleId[] {
  const failed = e.rules.filter((r) => !r.addOnly && !r.passedOnDemand).map((r) => r.id);
  // A deleted user is disabled for being deleted: its account, licenses and groups (last known, or
  // none for a user Entra no longer lists) are moot, and listing them would disagree with what
  // diagnostics read of the deleted user.
  return failed.includes("D2.notDeleted") ? failed.filter((id) => id === "D2.notDeleted" || id.startsWith("D5.")) : failed;
}

export function decide(s: Situation): Decision {
  const { row, user, eligibility: e } = s;
  if (!row) {
    if (!user || user.removed) return { action: null, lockInternalEmail: false };
    if (e.addInBackground) {
      const mode = accessModeAfterAddUser(s.accessModePin, e);
      return { action: { op: "add", userId: s.userId, ...(mode !== undefined && { accessMode: mode }) }, lockInternalEmail: false };
    }
    if (e.addOnDemand) {
      // D5: a Dataverse for Teams environment takes users at their first access only, not through the API.
      return { action: null, skipped: `eligible only for an on-demand add (${e.apiAdds ? "first access or the API" : "at the user's first access only"})`, lockInternalEmail: false };
    }
    return { action: null, lockInternalEmail: false };
  }
  const kind = recordKind(row);
  // D7: application users, support and delegated-admin records, stubs: never touched by the sync.
  if (!isDirectoryManaged(kind)) return { action: null, lockInternalEmail: false };

  if (row.isdisabled) {
    if (e.reenableInBackground) {
      const mode = accessModeAfterAddUser(s.accessModePin, e);
      return { action: { op: "reenable", userId: s.userId, systemUserId: row.systemuserid, ...(mode !== undefined && { accessMode: mode }) }, lockInternalEmail: false };
    }
    if (e.keep) return { action: null, skipped: "disabled; re-enabling it needs an on-demand add", lockInternalEmail: false };
    return { action: null, lockInternalEmail: false };
  }
  if (!e.keep) {
    if (!user && s.recordNewerThanSnapshot) {
      return { action: null, skipped: "created after the directory was read: the next cycle judges the user", lockInternalEmail: false };
    }
    return { action: { op: "disable", userId: s.userId, systemUserId: row.systemuserid, failedRules: failedKeepRules(e) }, lockInternalEmail: false };
  }
  if (!user) return { action: null, lockInternalEmail: false };
  const fields = profilePatch(row, user, { internalEmailLocked: s.internalEmailLocked });
  const patch: Record<string, string | number | null> = { ...fields.patch };
  // D8: an admin's pin stands (set again if something reset it, e.g. an addUser); otherwise switch between
  // read-write and administrative with the license; other modes are an admin's choice.
  if (s.accessModePin) {
    if (row.accessmode !== ACCESS_MODES[s.accessModePin]) patch.accessmode = ACCESS_MODES[s.accessModePin];
  } else if (kind === "regular" && (row.accessmode === ACCESS_MODES.readWrite || row.accessmode === ACCESS_MODES.administrative)) {
    const desired = ACCESS_MODES[e.accessMode];
    if (row.accessmode !== desired) patch.accessmode = desired;
  }
  const action: PlannedAction | null = Object.keys(patch).length > 0 ? { op: "update", userId: s.userId, systemUserId: row.systemuserid, patch } : null;
  return { action, lockInternalEmail: fields.lockInternalEmail };
}
