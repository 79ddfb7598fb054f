import { describe, expect, it } from "vitest";
import { FULL_LISTING } from "../../../shared/sync/documents.js";
import { membershipChangesOf, stagedUserOf } from "../../../shared/sync/directory-reader.js";
import type { DirectoryUser } from "../../../shared/sync/model.js";
import { applyStagedUser, bucketOf, chooseBucketCount, fold, needsAllBuckets, toBuckets } from "../../../shared/sync/snapshot.js";
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
