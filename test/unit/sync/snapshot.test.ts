import { describe, expect, it } from "vitest";
import { FULL_LISTING } from "../../../shared/sync/documents.js";
import type { Client } from "@microsoft/microsoft-graph-client";
import { membershipChangesOf, readUsersDeltaPage, stagedUserOf } from "../../../shared/sync/directory-reader.js";
import type { DirectoryUser } from "../../../shared/sync/model.js";
import {
  applyStagedUser, bucketOf, chooseBucketCount, fold, needsAllBuckets, pendingByBucket, toBuckets, type PendingMemberships,
} from "../../../shared/sync/snapshot.js";
import { GROUP, user } from "./fixtures.js";

const map = (...users: DirectoryUser[]) => new Map(users.map((u) => [u.id, u]));

describe("users/delta entries", () => {
  it("when an entry is @removed with reason changed, then it is a soft delete; with reason deleted, a hard one", () => {
    expect(stagedUserOf({ id: "A", "@removed": { reason: "changed" } })).toEqual({ id: "a", removed: "soft" });
    expect(stagedUserOf({ id: "A", "@removed": { reason: "deleted" } })).toEqual({ id: "a", removed: "hard" });
  });

  it("when an entry carries properties, then only those are staged (licenses and ids in lower case, the first business phone)", () => {
    expect(stagedUserOf({ id: "A", jobTitle: "Lead", businessPhones: ["+1", "+2"], assignedLicenses: [{ skuId: "ABC", disabledPlans: ["P"] }] })).toEqual({
      id: "a", jobTitle: "Lead", businessPhone: "+1", licenses: [{ skuId: "abc", disabledPlans: ["p"] }],
    });
  });

  const pageClient = (page: unknown) => ({ api: () => ({ get: () => Promise.resolve(page) }) }) as unknown as Client;

  it("when a page lists objects, then they are staged and its links kept", async () => {
    const page = await readUsersDeltaPage(pageClient({ value: [{ id: "A", accountEnabled: true }, { noId: 1 }], "@odata.nextLink": "next" }), "/users/delta");
    expect(page).toEqual({ items: [{ id: "a", accountEnabled: true }], nextLink: "next", deltaLink: null });
  });

  it.each([
    ["an entry that is not an object", { value: [{ id: "A" }, "B"] }],
    ["an entry that is an array", { value: [[{ id: "A" }]] }],
    ["a value that is not a list", { value: { id: "A" } }],
  ])("when a page has %s, then it is refused as Graph's unexpected answer (nothing staged)", async (_what, page) => {
    await expect(readUsersDeltaPage(pageClient(page), "/users/delta")).rejects.toMatchObject({ kind: "upstream", message: expect.stringContaining("unexpected delta page") });
  });
});

describe("merging delta into the snapshot", () => {
  it("when an update carries only some properties, then the others are kept", () => {
    const u = user();
    const merged = applyStagedUser(u, { id: u.id, jobTitle: "Lead" });
    expect(merged).toEqual({ ...u, jobTitle: "Lead" });
  });

  it("when a change is replayed, then the snapshot does not change again", () => {
    const u = user();
    const users = map(u);
    const change = { id: u.id, mail: "new@contoso.example" };
    expect(fold(users, { users: [change], members: [], trackedGroups: [GROUP] }, "touched")).toEqual(new Set([u.id]));
    const once = users.get(u.id);
    expect(fold(users, { users: [change], members: [], trackedGroups: [GROUP] }, "touched")).toEqual(new Set());
    expect(users.get(u.id)).toEqual(once);
    expect(once?.mailHistory).toEqual([u.mail]);
  });

  it("when a user without mail is renamed, then the former UPN (the internal email the sync wrote) is kept in the history", () => {
    const u = user({ mail: null, upn: "old.name@contoso.example" });
    const renamed = applyStagedUser(u, { id: u.id, upn: "new.name@contoso.example" });
    expect(renamed.mailHistory).toEqual(["old.name@contoso.example"]);
    // A user with mail: renaming does not change the internal email, so nothing is added.
    const withMail = user();
    expect(applyStagedUser(withMail, { id: withMail.id, upn: "other@contoso.example" }).mailHistory).toBeUndefined();
    // Mail taken away: the internal email was the mail.
    expect(applyStagedUser(withMail, { id: withMail.id, mail: null }).mailHistory).toEqual([withMail.mail]);
  });

  it("when a soft-deleted user comes back as an ordinary entry, then it is restored", () => {
    const u = user({ removed: "soft" });
    expect(applyStagedUser(u, { id: u.id, accountEnabled: true }).removed).toBeUndefined();
  });

  it("when a full users round does not list a known user, then that user is gone; users listed stay", () => {
    const kept = user();
    const gone = user();
    const users = map(kept, gone);
    const changed = fold(users, { users: [{ id: FULL_LISTING }, { id: kept.id, jobTitle: kept.jobTitle }], members: [], trackedGroups: [GROUP] }, "all");
    expect(changed).toEqual(new Set([gone.id]));
    expect(users.get(gone.id)?.removed).toBe("hard");
    expect(users.get(kept.id)?.removed).toBeUndefined();
  });

  it("when a group is listed whole, then users not listed after the marker are no longer members (earlier staged adds do not count)", () => {
    const stays = user();
    const leaves = user();
    const stale = user({ groups: [] });
    const users = map(stays, leaves, stale);
    fold(users, {
      users: [],
      members: [{ g: GROUP, u: stale.id, a: true }, { g: GROUP, u: FULL_LISTING, a: true }, { g: GROUP, u: stays.id, a: true }],
      trackedGroups: [GROUP],
    }, "all");
    expect(users.get(stays.id)?.groups).toEqual([GROUP]);
    expect(users.get(leaves.id)?.groups).toEqual([]);
    expect(users.get(stale.id)?.groups).toEqual([]);
  });

  it("when membership changes incrementally, then members are added and removed; groups no longer tracked are dropped on a full fold", () => {
    const a = user({ groups: [] });
    const b = user();
    const users = map(a, b);
    fold(users, { users: [], members: [{ g: GROUP, u: a.id, a: true }, { g: GROUP, u: b.id, a: false }], trackedGroups: [GROUP] }, "touched");
    expect(users.get(a.id)?.groups).toEqual([GROUP]);
    expect(users.get(b.id)?.groups).toEqual([]);
    fold(users, { users: [], members: [], trackedGroups: [] }, "all");
    expect(users.get(a.id)?.groups).toEqual([]);
  });

  it("when a full listing is among the changes, then the fold needs every bucket", () => {
    expect(needsAllBuckets({ users: [{ id: "x" }], members: [] })).toBe(false);
    expect(needsAllBuckets({ users: [{ id: FULL_LISTING }], members: [] })).toBe(true);
    expect(needsAllBuckets({ users: [], members: [{ g: GROUP, u: FULL_LISTING, a: true }] })).toBe(true);
  });
});

/**
 * What a cycle's store leaves in the bucket documents and the next cycle's fold reads back: users
 * and pending memberships, bucket by bucket (16 buckets).
 */
function stored(users: Map<string, DirectoryUser>, pending: PendingMemberships) {
  const buckets = toBuckets(users.values(), 16);
  const waiting = pendingByBucket(pending, 16);
  return [...buckets].map(([bucket, list]) => ({ bucket, users: list, pending: waiting.get(bucket) }));
}
function reread(docs: ReturnType<typeof stored>) {
  const users = new Map<string, DirectoryUser>();
  const pending: PendingMemberships = new Map();
  for (const doc of docs) {
    for (const u of doc.users) users.set(u.id, u);
    for (const [id, groups] of Object.entries(doc.pending ?? {})) pending.set(id, groups);
  }
  return { users, pending };
}

describe("memberships of users the snapshot does not have yet (created between the users/delta and groups/delta reads)", () => {
  it("when groups/delta adds a user before users/delta has brought it in, then the next cycle that brings the user in makes it a member", () => {
    const known = user();
    const late = user({ groups: [] });
    // Cycle 1: users/delta was read before the user was created; groups/delta sees it added to the group.
    const cycle1 = reread(stored(map(known), new Map()));
    const changed1 = fold(cycle1.users, { users: [], members: [{ g: GROUP, u: late.id, a: true }], trackedGroups: [GROUP] }, "touched", cycle1.pending);
    expect(changed1).toEqual(new Set([late.id])); // its bucket is written
    expect(cycle1.users.has(late.id)).toBe(false);
    const docs = stored(cycle1.users, cycle1.pending);
    expect(docs.find((d) => d.bucket === bucketOf(late.id, 16))?.pending).toEqual({ [late.id]: [GROUP] });

    // Cycle 2: users/delta brings the user; groups/delta has nothing new for it.
    const cycle2 = reread(docs);
    const { groups: _groups, ...entry } = late;
    const changed2 = fold(cycle2.users, { users: [entry], members: [], trackedGroups: [GROUP] }, "touched", cycle2.pending);
    expect(changed2).toEqual(new Set([late.id]));
    expect(cycle2.users.get(late.id)?.groups).toEqual([GROUP]);
    expect(cycle2.pending.size).toBe(0);
    expect(stored(cycle2.users, cycle2.pending).every((d) => d.pending === undefined)).toBe(true);
  });

  it("when the user is removed from the group before it arrives, then the pending add is cancelled", () => {
    const late = user({ groups: [] });
    const pending: PendingMemberships = new Map();
    const users = new Map<string, DirectoryUser>();
    fold(users, { users: [], members: [{ g: GROUP, u: late.id, a: true }], trackedGroups: [GROUP] }, "touched", pending);
    expect(fold(users, { users: [], members: [{ g: GROUP, u: late.id, a: false }], trackedGroups: [GROUP] }, "touched", pending)).toEqual(new Set([late.id]));
    expect(pending.size).toBe(0);
    fold(users, { users: [{ id: late.id, upn: late.upn, accountEnabled: true }], members: [], trackedGroups: [GROUP] }, "touched", pending);
    expect(users.get(late.id)?.groups).toEqual([]);
  });

  it("when a change is replayed, then a pending membership is not changed again", () => {
    const late = user({ groups: [] });
    const pending: PendingMemberships = new Map();
    const change = { users: [], members: [{ g: GROUP, u: late.id, a: true }], trackedGroups: [GROUP] };
    fold(new Map(), change, "touched", pending);
    expect(fold(new Map(), change, "touched", pending)).toEqual(new Set());
    expect(pending).toEqual(new Map([[late.id, [GROUP]]]));
  });

  it("when a full read follows, then pending memberships of users it does not list, of groups listed without them, or of untracked groups are dropped", () => {
    const other = "66666666-6666-4666-8666-666666666666";
    const gone = user({ groups: [] }); // deleted before any users/delta listed it
    const unlisted = user({ groups: [] });
    const untracked = user({ groups: [] });
    const pending: PendingMemberships = new Map([[gone.id, [GROUP]], [unlisted.id, [GROUP]], [untracked.id, [other]]]);
    const users = new Map<string, DirectoryUser>();
    fold(users, { users: [], members: [{ g: GROUP, u: FULL_LISTING, a: true }], trackedGroups: [GROUP] }, "all", pending);
    expect(pending.size).toBe(0);

    const later = user({ groups: [] });
    const keep: PendingMemberships = new Map([[gone.id, [GROUP]]]);
    // A full users round that does not list a user with a pending membership: the user is gone; this cycle's own adds wait.
    fold(users, { users: [{ id: FULL_LISTING }], members: [{ g: GROUP, u: later.id, a: true }], trackedGroups: [GROUP] }, "all", keep);
    expect(keep).toEqual(new Map([[later.id, [GROUP]]]));
  });

  it("when the bucket count changes, then each pending membership moves to the bucket of its user", () => {
    const ids = Array.from({ length: 50 }, () => user().id);
    const pending: PendingMemberships = new Map(ids.map((id) => [id, [GROUP]]));
    const byBucket = pendingByBucket(pending, 32);
    expect([...byBucket.values()].reduce((n, b) => n + Object.keys(b).length, 0)).toBe(50);
    for (const [b, entries] of byBucket) for (const id of Object.keys(entries)) expect(bucketOf(id, 32)).toBe(b);
  });
});

describe("groups/delta (D2: direct members only)", () => {
  it("when a nested group or a service principal is a member, then it is ignored; removals are removals", () => {
    const changes = membershipChangesOf([
      {
        id: GROUP.toUpperCase(),
        "members@delta": [
          { "@odata.type": "#microsoft.graph.user", id: "U1" },
          { "@odata.type": "#microsoft.graph.group", id: "G2" },
          { "@odata.type": "#microsoft.graph.servicePrincipal", id: "S1" },
          { "@odata.type": "#microsoft.graph.user", id: "U2", "@removed": { reason: "deleted" } },
        ],
      },
      { id: "G3", "@removed": { reason: "deleted" } },
    ]);
    expect(changes).toEqual({ members: [{ g: GROUP, u: "u1", a: true }, { g: GROUP, u: "u2", a: false }], deletedGroups: ["g3"] });
  });
});

describe("chunked snapshot documents", () => {
  it("when the snapshot grows, then the bucket count keeps buckets near their target size and each user has one bucket", () => {
    expect(chooseBucketCount(100)).toBe(16);
    expect(chooseBucketCount(100_000)).toBe(256);
    const users = Array.from({ length: 2000 }, () => user());
    const buckets = toBuckets(users, 16);
    expect([...buckets.values()].reduce((n, b) => n + b.length, 0)).toBe(2000);
    for (const [b, list] of buckets) for (const u of list) expect(bucketOf(u.id, 16)).toBe(b);
  });
});
