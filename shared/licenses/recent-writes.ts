import type { AssignLicenseCall, GraphLicenseState, GraphUser } from "./graph-licensing.js";
import { statesOf } from "./license-state.js";
import type { ChangePlan } from "./model.js";
import { statesAfter, type PlannedChange } from "./plan.js";

/**
 * L3 under Graph's replication lag: a read of a user just after an assignLicense may still show
 * the licenses as they were before it. A change planned on such a read would send again a product
 * the user now holds - and Graph would replace its disabled plans, undoing the earlier change.
 * But a read showing the earlier state may also be the truth: someone changed the user back
 * elsewhere (the admin center, PowerShell) since.
 *
 * So a change's users' locks (user-locks.ts) keep what the change wrote (or may have: an outcome
 * Graph did not confirm) - the user's direct
 * licenses before and after - for READ_LAG_MS. When the next change's read shows exactly a
 * "before", the change is planned on both - the read, and the read as the write left it - and:
 * - both give the user the same licenses: it goes on, planned on the read;
 * - they differ: nothing is sent, and the user's result is a retryable `read-lag` (503, Retry-After);
 *   once Graph's read shows the write (or the window ends: the read is then the truth), it goes on.
 * A read showing anything else (the write, or another change made since) is used as read. Writes
 * in a row keep their earlier "befores" (a read may lag more than one write).
 */
export const READ_LAG_MS = 120_000;
/** Earlier states kept for writes in a row. */
const MAX_BEFORE = 5;

/** Direct licenses as skuId -> sorted disabled plans. */
export type DirectLicenses = Record<string, string[]>;

export type RecentWrite = {
  /** When Graph answered the last write (ISO). */
  at: string;
  /** The states the recent writes replaced, oldest first. */
  before: DirectLicenses[];
  after: DirectLicenses;
};

function directOf(user: GraphUser): DirectLicenses {
  return directOfStates(statesOf(user));
}

function directOfStates(states: readonly GraphLicenseState[]): DirectLicenses {
  const out: DirectLicenses = {};
  for (const s of states) if (s.assignedByGroup === null) out[s.skuId] = [...s.disabledPlans].sort();
  return out;
}

function same(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return a !== undefined && b !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);
}

function sameLicenses(a: DirectLicenses, b: DirectLicenses): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => same(a[k], b[k]));
}

/** Whether a write is recent enough that a read may not show it yet. */
export function isRecent(write: RecentWrite | undefined, now = Date.now()): write is RecentWrite {
  return write !== undefined && now - Date.parse(write.at) < READ_LAG_MS;
}

/**
 * What an assignLicense call wrote (Graph confirmed it, or did not answer for sure), for a user planned on as `user`; `previous`:
 * the recent write the change found (its states are kept when this write follows it).
 */
export function recentWrite(
  user: GraphUser, call: Pick<AssignLicenseCall, "addLicenses" | "removeLicenses">, previous?: RecentWrite, now = Date.now(),
): RecentWrite {
  const current = directOf(user);
  const after: DirectLicenses = { ...current };
  for (const skuId of call.removeLicenses) delete after[skuId.toLowerCase()];
  for (const a of call.addLicenses) after[a.skuId.toLowerCase()] = a.disabledPlans.map((p) => p.toLowerCase()).sort();
  const earlier = isRecent(previous, now) && sameLicenses(previous.after, current) ? previous.before : [];
  return { at: new Date(now).toISOString(), before: [...earlier, current].slice(-MAX_BEFORE), after };
}

/**
 * The user as the recent write left it, when the read shows exactly the licenses it replaced (the
 * read with the write's direct licenses, inherited ones as read); otherwise the read itself.
 */
export function withRecentWrite(user: GraphUser, write: RecentWrite | undefined, now = Date.now()): GraphUser {
  if (!isRecent(write, now)) return user;
  const current = directOf(user);
  if (sameLicenses(current, write.after) || !write.before.some((b) => sameLicenses(b, current))) return user;
  const touched = new Set([...Object.keys(current), ...Object.keys(write.after)].filter((skuId) => !same(current[skuId], write.after[skuId])));
  const states: GraphLicenseState[] = statesOf(user).filter((s) => s.assignedByGroup !== null || !touched.has(s.skuId));
  for (const skuId of touched) {
    const plans = write.after[skuId];
    if (plans) states.push({ skuId, assignedByGroup: null, disabledPlans: plans, state: "Active", error: null, lastUpdatedDateTime: null });
  }
  const assigned = new Map<string, string[]>();
  for (const s of states) if (!assigned.has(s.skuId) || s.assignedByGroup === null) assigned.set(s.skuId, s.disabledPlans);
  return {
    ...user,
    licenseAssignmentStates: states,
    assignedLicenses: [...assigned].map(([skuId, disabledPlans]) => ({ skuId, disabledPlans })),
  };
}

/** The code of a change refused for the read lag (licenseErrors.readLag). */
export const READ_LAG_CODE = "read-lag";
/** Seconds a change refused for the read lag is told to wait. */
export const READ_LAG_RETRY_SECONDS = 10;

/**
 * Whether the change's outcome depends on which of the two the truth is: the read (the user was
 * changed back elsewhere), or the read as a recent write left it (Graph's read lags). The change as
 * planned on the read is right in the first case; in the second it is right only when, sent to the
 * user as written, it leaves the licenses that planning on the write would (and removes nothing
 * the write took away, which Graph would refuse). Refusals must agree too.
 */
export function dependsOnReadLag(read: GraphUser, write: RecentWrite | undefined, plan: (user: GraphUser) => PlannedChange, now = Date.now()): boolean {
  const asWritten = withRecentWrite(read, write, now);
  if (asWritten === read) return false;
  const [onRead, onWrite] = [plan(read), plan(asWritten)];
  if (!onRead.ok || !onWrite.ok) return onRead.ok || onWrite.ok || onRead.error.code !== onWrite.error.code;
  const written = statesOf(asWritten);
  const after = (p: ChangePlan) => directOfStates(statesAfter(written, p));
  const held = directOfStates(written);
  return !sameLicenses(after(onRead.plan), after(onWrite.plan)) || onRead.plan.remove.some((skuId) => !(skuId in held));
}
