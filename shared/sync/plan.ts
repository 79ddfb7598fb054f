import { decide, type PlannedAction } from "./decide.js";
import type { AccessModePin, DriftDocument } from "./documents.js";
import { evaluateEligibility } from "./eligibility.js";
import type { DirectoryUser, PlatformEnvironment, SystemUserRow, TenantFacts } from "./model.js";
import { pendingRolesAction } from "./pending-roles.js";
import { isDirectoryManaged, recordKind } from "./records.js";

/**
 * A run's plan: every candidate user of an environment judged by the rules and compared with its
 * record. Full reconcile: every user of the snapshot and every directory-managed record;
 * incremental: the users the journal says changed.
 */
export interface PlanInput {
  environment: PlatformEnvironment;
  facts: TenantFacts;
  /** Candidate users: the snapshot (full) or the changed users (incremental). */
  users: Map<string, DirectoryUser>;
  /** Records of the environment: all of them (full) or those of the candidates. */
  rows: readonly SystemUserRow[];
  full: boolean;
  drift: Map<string, DriftDocument>;
  locks: Set<string>;
  /** D8: users whose access mode an admin pinned (the sync keeps that mode). */
  pins?: ReadonlyMap<string, AccessModePin>;
  /** Users whose last action failed (failed-action marks): candidates too, incremental or not. */
  failed?: ReadonlySet<string>;
  /**
   * D0: users with drift that nothing else makes candidates (incremental runs): looked at only to
   * see whether the record now agrees with the rules - then their drift goes; no action for them.
   */
  recheck?: ReadonlySet<string>;
  /** D14: default roles (still the environment's) that users this product added did not receive. */
  pendingRoles?: ReadonlyMap<string, readonly string[]>;
  /** D4: when the users read of the snapshot's cycle began (epoch ms; null: unknown). */
  snapshotReadAt?: number | null;
}

export interface Plan {
  actions: PlannedAction[];
  read: number;
  skipped: number;
  /** Users whose record now matches the rules: their drift record goes. */
  resolvedDrift: string[];
  /** Users with a failed-action mark who need no action any more: their mark goes. */
  resolvedFailed: string[];
  /** D6: users whose internal email was edited in Dataverse. */
  newLocks: { userId: string; value: string | null }[];
  /** Enabled directory-managed records (the base of the mass-disable guard; full reconcile only). */
  enabledUsers: number;
}

/**
 * How much earlier than the cycle's own clock a record's `createdon` (Dataverse's clock) may say
 * and still count as created after the users read: clock skew, and Graph's delta lagging behind a
 * user's creation.
 */
export const SNAPSHOT_READ_MARGIN_MS = 5 * 60_000;

/** D4: a record of a user the snapshot has never seen, created after the snapshot's users read began. */
export function recordNewerThanSnapshot(row: SystemUserRow | null, user: DirectoryUser | null, snapshotReadAt: number | null | undefined): boolean {
  if (user || !row?.createdon || snapshotReadAt === null || snapshotReadAt === undefined) return false;
  const created = Date.parse(row.createdon);
  return Number.isFinite(created) && created > snapshotReadAt - SNAPSHOT_READ_MARGIN_MS;
}

const ORDER: Record<PlannedAction["op"], number> = { add: 0, reenable: 1, assignRoles: 2, update: 3, disable: 4 };

export function planRun(input: PlanInput): Plan {
  const rowsByUser = new Map<string, SystemUserRow>();
  let enabledUsers = 0;
  for (const row of input.rows) {
    const aad = row.azureactivedirectoryobjectid?.toLowerCase();
    if (!aad) continue;
    if (isDirectoryManaged(recordKind(row))) {
      rowsByUser.set(aad, row);
      if (!row.isdisabled) enabledUsers++;
    } else {
      // D7: the object id of an application user is a service principal, not a user; support and
      // delegated-admin records are Microsoft's. Never a candidate.
      rowsByUser.set(aad, row);
    }
  }
  const ids = new Set<string>();
  for (const [id, user] of input.users) if (!user.removed || rowsByUser.has(id)) ids.add(id);
  if (input.full) for (const id of rowsByUser.keys()) ids.add(id);
  for (const id of input.failed ?? []) ids.add(id);
  for (const id of input.recheck ?? []) ids.add(id);

  const plan: Plan = { actions: [], read: 0, skipped: 0, resolvedDrift: [], resolvedFailed: [], newLocks: [], enabledUsers };
  for (const userId of ids) {
    const row = rowsByUser.get(userId) ?? null;
    if (row && !isDirectoryManaged(recordKind(row))) {
      if (input.failed?.has(userId)) plan.resolvedFailed.push(userId);
      continue;
    }
    const user = input.users.get(userId) ?? null;
    const eligibility = evaluateEligibility({ user, userId, tenant: input.facts, environment: input.environment, record: row ? { kind: recordKind(row) } : null, explain: false });
    const decision = decide({
      userId, user, row, eligibility, internalEmailLocked: input.locks.has(userId), accessModePin: input.pins?.get(userId)?.accessMode ?? null,
      recordNewerThanSnapshot: recordNewerThanSnapshot(row, user, input.snapshotReadAt),
    });
    if (input.recheck?.has(userId)) {
      // Only to see whether its drift still holds: nothing is done (or counted) for it.
      if (!decision.action && input.drift.has(userId)) plan.resolvedDrift.push(userId);
      continue;
    }
    plan.read++;
    const roles = pendingRolesAction(userId, row, decision.action, input.pendingRoles?.get(userId));
    if (decision.action) plan.actions.push(decision.action);
    if (roles) plan.actions.push(roles);
    if (!decision.action && !roles && input.failed?.has(userId)) plan.resolvedFailed.push(userId);
    if (decision.skipped) plan.skipped++;
    if (decision.lockInternalEmail) plan.newLocks.push({ userId, value: row?.internalemailaddress ?? null });
    if (!decision.action && input.drift.has(userId)) plan.resolvedDrift.push(userId);
  }
  plan.actions.sort((a, b) => ORDER[a.op] - ORDER[b.op]);
  return plan;
}
