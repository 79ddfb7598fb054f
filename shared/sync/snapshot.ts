import { FULL_LISTING, type StagedMemberChange, type StagedUser } from "./documents.js";
import { internalEmailOf } from "./fields.js";
import type { DirectoryUser } from "./model.js";

/**
 * The tenant's user snapshot: what users/delta and groups/delta said, merged. Pure functions here;
 * the directory cycle reads and writes the bucket documents around them.
 *
 * Delta rules honoured: an updated user may come with only some properties (merge, never
 * replace); replays happen (merging the same change twice changes nothing); `@removed` with
 * reason "changed" is a soft delete (restorable: a later ordinary entry restores it), "deleted"
 * a hard delete; a full round lists active objects only, so a known user missing from it is gone.
 */

const MAIL_HISTORY = 5;
/** Users per bucket document the snapshot aims for (a bucket stays far below Cosmos's 2 MB). */
export const USERS_PER_BUCKET = 400;

/** 32-bit FNV-1a: a stable bucket for a user id. */
export function bucketOf(userId: string, bucketCount: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    h ^= userId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % bucketCount;
}

export function chooseBucketCount(users: number): number {
  let n = 16;
  while (n * USERS_PER_BUCKET < users) n *= 2;
  return n;
}

function emptyUser(id: string): DirectoryUser {
  return {
    id, upn: "", accountEnabled: false, userType: "Member", displayName: null, givenName: null, surname: null, mail: null, jobTitle: null,
    mobilePhone: null, businessPhone: null, streetAddress: null, city: null, state: null, country: null, licenses: [], groups: [],
  };
}

/** Merges one staged delta entry into a user (undefined = not known yet). */
export function applyStagedUser(existing: DirectoryUser | undefined, staged: StagedUser): DirectoryUser {
  if (staged.removed) return { ...(existing ?? emptyUser(staged.id)), removed: staged.removed };
  const base = existing ?? emptyUser(staged.id);
  const merged: DirectoryUser = { ...base };
  delete merged.removed;
  // for...in, not Object.entries: this runs for every user of a full cycle.
  for (const key in staged) {
    const value = (staged as Record<string, unknown>)[key];
    if (key === "id" || key === "groups" || key === "mailHistory" || key === "removed" || value === undefined) continue;
    (merged as Record<string, unknown>)[key] = value;
  }
  // D6: every internal email the sync wrote (or would have) stays recognisable as its own: the
  // value derived before this change (mail, or the UPN when there is no mail) joins the history.
  const before = internalEmailOf(base);
  if (before && before !== internalEmailOf(merged)) {
    merged.mailHistory = [...(base.mailHistory ?? []).filter((m) => m !== before), before].slice(-MAIL_HISTORY);
  }
  return merged;
}

const SCALARS = ["upn", "accountEnabled", "userType", "removed", "displayName", "givenName", "surname", "mail", "jobTitle", "mobilePhone", "businessPhone", "streetAddress", "city", "state", "country"] as const;

const sameList = (a: readonly string[] | undefined, b: readonly string[] | undefined) =>
  (a?.length ?? 0) === (b?.length ?? 0) && (a ?? []).every((x, i) => x === b?.[i]);

/** Field by field (it runs for every user of a full cycle: no serialisation). */
export function sameUser(a: DirectoryUser | undefined, b: DirectoryUser | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  for (const k of SCALARS) if (a[k] !== b[k]) return false;
  if (!sameList(a.groups, b.groups) || !sameList(a.mailHistory, b.mailHistory) || a.licenses.length !== b.licenses.length) return false;
  return a.licenses.every((l, i) => {
    const o = b.licenses[i];
    return o !== undefined && o.skuId === l.skuId && sameList(l.disabledPlans, o.disabledPlans);
  });
}

function withGroup(user: DirectoryUser, groupId: string, member: boolean): DirectoryUser {
  const has = user.groups.includes(groupId);
  if (has === member) return user;
  return { ...user, groups: member ? [...user.groups, groupId].sort() : user.groups.filter((g) => g !== groupId) };
}

export interface FoldChanges {
  /** In delta order; an entry with id FULL_LISTING starts a full users round (known users not listed after it are gone). */
  users: readonly StagedUser[];
  /** In delta order; an entry with u FULL_LISTING starts a full listing of group g (members not listed after it are not members). */
  members: readonly StagedMemberChange[];
  trackedGroups: readonly string[];
}

/**
 * Memberships groups/delta reported for users the snapshot does not have yet: user id -> tracked
 * groups (sorted). A user created after a cycle's users/delta read and added to a group before its
 * groups/delta read arrives with the next cycle's users/delta, but groups/delta never sends that
 * membership again: it waits here, stored with the bucket the user id falls in (so a user and its
 * pending memberships are always written together), and is applied when the user arrives.
 */
export type PendingMemberships = Map<string, string[]>;

/** A fold needs every bucket when a full listing (users or a group) is among the changes. */
export function needsAllBuckets(changes: Pick<FoldChanges, "users" | "members">): boolean {
  return changes.users.some((u) => u.id === FULL_LISTING) || changes.members.some((m) => m.u === FULL_LISTING);
}

/**
 * Applies a cycle's staged changes to the users given (the touched buckets on an incremental
 * cycle, every bucket when needsAllBuckets) and to the pending memberships of those buckets.
 * Mutates both; returns the ids that changed (their user, or only their pending memberships: the
 * bucket of every id returned must be written).
 */
export function fold(users: Map<string, DirectoryUser>, changes: FoldChanges, scope: "touched" | "all", pending: PendingMemberships = new Map()): Set<string> {
  const changed = new Set<string>();
  const set = (id: string, next: DirectoryUser) => {
    if (!sameUser(users.get(id), next)) changed.add(id);
    users.set(id, next);
  };
  const setPending = (id: string, groups: string[]) => {
    const before = pending.get(id) ?? [];
    if (sameList(before, groups)) return;
    if (groups.length) pending.set(id, groups);
    else pending.delete(id);
    changed.add(id);
  };
  let listed: Set<string> | null = null;
  for (const s of changes.users) {
    if (s.id === FULL_LISTING) {
      listed = new Set();
      continue;
    }
    listed?.add(s.id);
    let next = applyStagedUser(users.get(s.id), s);
    const waiting = pending.get(s.id);
    if (waiting) {
      // The user arrives: the memberships reported before it take effect (the user changes anyway).
      for (const g of waiting) next = withGroup(next, g, true);
      setPending(s.id, []);
    }
    set(s.id, next);
  }
  if (listed) {
    // Pending memberships come from earlier cycles, whose group reads preceded this full round: a
    // user it does not list was deleted before it was ever seen.
    for (const id of [...pending.keys()]) if (!listed.has(id)) setPending(id, []);
  }
  const fullGroups = new Map<string, Set<string>>();
  for (const m of changes.members) {
    if (m.u === FULL_LISTING) {
      fullGroups.set(m.g, new Set());
      continue;
    }
    const listing = fullGroups.get(m.g);
    if (listing) {
      if (m.a) listing.add(m.u);
      else listing.delete(m.u);
    }
    const user = users.get(m.u);
    if (user) set(m.u, withGroup(user, m.g, m.a));
    else {
      // Not in the snapshot (yet): keep an add until the user arrives; a removal cancels it.
      const groups = pending.get(m.u) ?? [];
      setPending(m.u, m.a ? [...new Set([...groups, m.g])].sort() : groups.filter((g) => g !== m.g));
    }
  }
  if (scope === "all") {
    const tracked = new Set(changes.trackedGroups);
    for (const [id, user] of users) {
      let next = user;
      if (listed && !listed.has(id) && !user.removed) next = { ...next, removed: "hard" };
      for (const [g, members] of fullGroups) next = withGroup(next, g, members.has(id));
      if (next.groups.some((g) => !tracked.has(g))) next = { ...next, groups: next.groups.filter((g) => tracked.has(g)) };
      if (next !== user) set(id, next);
    }
    for (const [id, groups] of [...pending]) {
      setPending(id, groups.filter((g) => tracked.has(g) && (fullGroups.get(g)?.has(id) ?? true)));
    }
  }
  return changed;
}

/** Splits users into buckets. */
export function toBuckets(users: Iterable<DirectoryUser>, bucketCount: number): Map<number, DirectoryUser[]> {
  const out = new Map<number, DirectoryUser[]>();
  for (let b = 0; b < bucketCount; b++) out.set(b, []);
  for (const u of users) out.get(bucketOf(u.id, bucketCount))?.push(u);
  return out;
}

/** Pending memberships by bucket, for the buckets given (every bucket when undefined); a bucket with none has no entry. */
export function pendingByBucket(pending: PendingMemberships, bucketCount: number, buckets?: ReadonlySet<number>): Map<number, Record<string, string[]>> {
  const out = new Map<number, Record<string, string[]>>();
  for (const [id, groups] of pending) {
    const b = bucketOf(id, bucketCount);
    if (buckets && !buckets.has(b)) continue;
    const entry = out.get(b) ?? {};
    entry[id] = groups;
    out.set(b, entry);
  }
  return out;
}
