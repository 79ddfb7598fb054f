import type { Container } from "@azure/cosmos";
import { describe, expect, it } from "vitest";
import type { AppConfig } from "../../../shared/config/config.js";
import type { SyncDeps } from "../../../shared/sync/deps.js";
import { runDirectoryJob } from "../../../shared/sync/directory-cycle.js";
import { FULL_LISTING, type ActiveCycle, type DirectoryState, type StagedMemberChange, type StagedUser } from "../../../shared/sync/documents.js";
import type { DirectoryUser } from "../../../shared/sync/model.js";
import { toBuckets } from "../../../shared/sync/snapshot.js";
import { SyncStore, type StagingDocument } from "../../../shared/sync/store.js";
import { GROUP, user } from "./fixtures.js";

/**
 * The directory cycle's fold and store phases over the real SyncStore, whose chunk container is an
 * in-memory map (the state document is kept by the harness). Each test starts a cycle at its fold
 * phase with staged delta pages, as the users and groups phases leave them.
 */
const TENANT = "t";
const PK = `${TENANT}|directory`;
const config = { SYNC_TENANT_SIZED_JOBS_PER_PROCESS: 1, SYNC_LEASE_SECONDS: 300, SYNC_CHUNK_SECONDS: 120 } as unknown as AppConfig;

type Doc = Record<string, unknown> & { id: string };

function harness(initial: { bucketCount: number; users: DirectoryUser[] }) {
  const chunks = new Map<string, Doc>();
  /** Called after every change of a chunk document (tests check invariants here). */
  let onChange: (op: string, id: string) => void = () => undefined;
  /** Makes the next deletion of an id starting with this prefix fail once (a crash at that point). */
  let failDeleteOf: string | null = null;
  /** Makes the next save of the state that matches fail once (a crash before that checkpoint). */
  let failSaveOf: ((doc: DirectoryState) => boolean) | null = null;
  const container = {
    item: (id: string) => ({
      read: () => Promise.resolve(chunks.has(id) ? { resource: structuredClone(chunks.get(id)), statusCode: 200 } : { resource: undefined, statusCode: 404 }),
      delete: () => {
        if (failDeleteOf !== null && id.startsWith(failDeleteOf)) {
          failDeleteOf = null;
          return Promise.reject(Object.assign(new Error("the worker died"), { code: 503 }));
        }
        if (!chunks.delete(id)) return Promise.reject(Object.assign(new Error("not found"), { code: 404 }));
        onChange("delete", id);
        return Promise.resolve({});
      },
    }),
    items: {
      upsert: (doc: Doc) => {
        chunks.set(doc.id, structuredClone(doc));
        onChange("upsert", doc.id);
        return Promise.resolve({ resource: doc });
      },
      batch: (ops: { resourceBody: Doc }[]) => {
        for (const op of ops) {
          chunks.set(op.resourceBody.id, structuredClone(op.resourceBody));
          onChange("upsert", op.resourceBody.id);
        }
        return Promise.resolve({ result: ops.map(() => ({ statusCode: 200 })) });
      },
    },
  } as unknown as Container;
  const store = new SyncStore({} as Container, container);

  let state: DirectoryState = {
    id: "directory-state", type: "directory-state", tenantId: TENANT, partitionKey: PK, cycle: 3, usersDeltaLink: "delta", groupStreams: [],
    bucketCount: initial.bucketCount, facts: null, environments: [], journal: {}, fullCycles: [], journalFloor: 0, lastCycleAt: null, active: null, lease: null,
  };
  let etag = 0;
  Object.assign(store, {
    loadDirectory: () => Promise.resolve({ state: { doc: structuredClone(state), etag: `e${etag}` }, environments: new Map() }),
    readDirectoryState: () => Promise.resolve({ doc: structuredClone(state), etag: `e${etag}` }),
    save: (doc: DirectoryState) => {
      if (failSaveOf?.(doc)) {
        failSaveOf = null;
        return Promise.reject(new Error("the worker died"));
      }
      state = structuredClone(doc);
      etag++;
      onChange("save", doc.id);
      return Promise.resolve(`e${etag}`);
    },
  });
  for (const [bucket, users] of toBuckets(initial.users, initial.bucketCount)) {
    chunks.set(`bucket|${initial.bucketCount}|${bucket}`, { id: `bucket|${initial.bucketCount}|${bucket}`, type: "bucket", partitionKey: PK, bucketCount: initial.bucketCount, bucket, users });
  }

  const deps = {
    config,
    store,
    settings: { all: () => Promise.resolve(new Map()) },
    queue: { send: () => Promise.resolve() },
    isPaused: () => Promise.resolve(false),
    now: () => new Date(),
  } as unknown as SyncDeps;

  /** Starts the next cycle at its fold phase, with these staged pages. */
  function stageCycle(pages: ({ kind: "users"; users: StagedUser[] } | { kind: "groups"; changes: StagedMemberChange[] })[]) {
    const cycle = state.cycle + 1;
    pages.forEach((page, seq) => {
      const doc: StagingDocument = { ...page, id: `staging|${cycle}|${seq}`, type: "staging", partitionKey: PK, cycle, seq };
      chunks.set(doc.id, doc);
    });
    const active = {
      cycle, step: 1, startedAt: new Date().toISOString(), phase: "fold", usersFull: false, usersNextLink: null, usersDeltaLink: "delta", groupsFull: false,
      groupStreamIndex: 1, groupNextLink: null, groupRoundFull: false, newGroupStreams: [], staged: pages.length, facts: null, environments: [],
      trackedGroups: [GROUP], reevaluateAll: false, fullCycle: false, journalDocs: 0, bucketCount: state.bucketCount,
    } as unknown as ActiveCycle;
    state = { ...state, active };
    return cycle;
  }
  /** Runs (or resumes) the active cycle, as its queue message would. */
  const runCycle = () => runDirectoryJob(deps, TENANT, { trigger: "continue", cycle: state.active?.cycle ?? 0, step: state.active?.step ?? 0 }, "worker-1");
  /** The snapshot as a reader (an environment's full plan) sees it: the bucket count of the saved state, then its buckets. */
  const readSnapshot = async () => {
    const users = new Map<string, DirectoryUser>();
    for (const list of (await store.readBuckets(TENANT, state.bucketCount)).values()) for (const u of list) users.set(u.id, u);
    return users;
  };
  return {
    chunks, store, stageCycle, runCycle, readSnapshot,
    state: () => state,
    onChange: (fn: (op: string, id: string) => void) => (onChange = fn),
    failDeleteOf: (prefix: string) => (failDeleteOf = prefix),
    failSaveOf: (match: (doc: DirectoryState) => boolean) => (failSaveOf = match),
  };
}

/** Every bucket of the saved state's bucket count exists (what a reader needs to see every user). */
function bucketsWhole(h: ReturnType<typeof harness>): boolean {
  const count = h.state().bucketCount;
  return Array.from({ length: count }, (_, b) => `bucket|${count}|${b}`).every((id) => h.chunks.has(id));
}

describe("the snapshot while the bucket count changes", () => {
  // 100 users in 32 buckets: a full fold picks 16 buckets (the count shrinks).
  const users = Array.from({ length: 100 }, () => user());
  const fullGroupListing = [{ kind: "groups" as const, changes: [{ g: GROUP, u: FULL_LISTING, a: true }, ...users.map((u) => ({ g: GROUP, u: u.id, a: true }))] }];

  it("when a full fold moves the snapshot to another bucket count, then at every moment the saved count's buckets are all there, and the old ones go after the switch", async () => {
    const h = harness({ bucketCount: 32, users });
    h.stageCycle(fullGroupListing);
    const broken: string[] = [];
    h.onChange((op, id) => {
      if (!bucketsWhole(h)) broken.push(`${op} ${id} (state bucketCount ${h.state().bucketCount})`);
    });

    expect(await h.runCycle()).toBe("completed");
    expect(broken).toEqual([]);
    expect(h.state().bucketCount).toBe(16);
    expect([...h.chunks.keys()].filter((id) => id.startsWith("bucket|32|"))).toEqual([]);
    expect((await h.readSnapshot()).size).toBe(100);
  });

  it("when a reader read the old count just before the switch and its buckets are gone, then the read fails (to be retried) instead of answering without users", async () => {
    const h = harness({ bucketCount: 32, users });
    h.stageCycle(fullGroupListing);
    expect(await h.runCycle()).toBe("completed");
    await expect(h.store.readBuckets(TENANT, 32)).rejects.toMatchObject({ kind: "unavailable" });
    await expect(h.store.readBuckets(TENANT, 32, [0, 1])).rejects.toMatchObject({ kind: "unavailable" });
    expect((await h.store.readBuckets(TENANT, 16)).size).toBe(16);
  });

  it("when the worker dies in the store phase after writing the new buckets, then the resumed cycle still finds every user", async () => {
    const h = harness({ bucketCount: 32, users });
    h.stageCycle(fullGroupListing);
    h.failSaveOf((doc) => doc.active?.phase === "fanout");
    await expect(h.runCycle()).rejects.toThrow();
    expect(h.state().active?.phase).toBe("store");
    expect([...h.chunks.keys()].filter((id) => id.startsWith("bucket|16|"))).toHaveLength(16);

    expect(await h.runCycle()).toBe("completed");
    const snapshot = await h.readSnapshot();
    expect(snapshot.size).toBe(100);
    expect([...snapshot.values()].every((u) => u.groups.includes(GROUP) && !u.removed)).toBe(true);
  });
});

describe("a crash while the cycle's staged pages are deleted (D12)", () => {
  it("when the worker dies after some staged pages are gone, then the resumed cycle loses none of their changes (the bucket count switching too)", async () => {
    // 100 users in 32 buckets, in no group yet; the cycle lists the group in full over two pages (the
    // fold moves the snapshot to 16 buckets) and a third page changes one user's job title.
    const before = Array.from({ length: 100 }, () => user({ groups: [] }));
    const h = harness({ bucketCount: 32, users: before });
    const promoted = before[7]!;
    const cycle = h.stageCycle([
      { kind: "groups", changes: [{ g: GROUP, u: FULL_LISTING, a: true }, ...before.slice(0, 50).map((u) => ({ g: GROUP, u: u.id, a: true }))] },
      { kind: "groups", changes: before.slice(50).map((u) => ({ g: GROUP, u: u.id, a: true })) },
      { kind: "users", users: [{ id: promoted.id, jobTitle: "Head of Sales" }] },
    ]);
    // The first two pages are deleted, then the worker dies deleting the third.
    h.failDeleteOf(`staging|${cycle}|2`);
    await expect(h.runCycle()).rejects.toThrow();
    expect(h.chunks.has(`staging|${cycle}|0`)).toBe(false);

    expect(await h.runCycle()).toBe("completed");
    expect(h.state()).toMatchObject({ cycle, bucketCount: 16, active: null });
    const snapshot = await h.readSnapshot();
    expect(snapshot.size).toBe(100);
    expect([...snapshot.values()].filter((u) => !u.groups.includes(GROUP)).map((u) => u.id)).toEqual([]);
    expect(snapshot.get(promoted.id)?.jobTitle).toBe("Head of Sales");
    expect([...h.chunks.keys()].filter((id) => id.startsWith("staging|"))).toEqual([]);
  });
});

describe("a membership seen before its user (created between the cycle's users/delta and groups/delta reads)", () => {
  it("when the next cycle's users/delta brings the user, then the user is a member (in the snapshot and in that cycle's journal)", async () => {
    const known = Array.from({ length: 20 }, () => user());
    const late = user({ groups: [] });
    const h = harness({ bucketCount: 16, users: known });

    // Cycle 4: users/delta had nothing new; groups/delta says the new user joined the group.
    h.stageCycle([{ kind: "groups", changes: [{ g: GROUP, u: late.id, a: true }] }]);
    expect(await h.runCycle()).toBe("completed");
    expect((await h.readSnapshot()).has(late.id)).toBe(false);

    // Cycle 5: users/delta brings the user; groups/delta has nothing more about it.
    const { groups: _groups, ...entry } = late;
    const cycle = h.stageCycle([{ kind: "users", users: [entry] }]);
    // (No environment syncs here, so the cycle prunes its journal at its end: catch it as it is written.)
    const journal: DirectoryUser[] = [];
    h.onChange((op, id) => {
      if (op === "upsert" && id.startsWith(`journal|${cycle}|`)) journal.push(...(h.chunks.get(id)?.users as DirectoryUser[]));
    });
    expect(await h.runCycle()).toBe("completed");
    expect((await h.readSnapshot()).get(late.id)?.groups).toEqual([GROUP]);
    expect(journal.find((u) => u.id === late.id)?.groups).toEqual([GROUP]);
    // Stored once: the pending membership is gone from the bucket.
    expect([...h.chunks.values()].filter((d) => d.type === "bucket" && d.pending)).toEqual([]);
  });

  it("when only the membership changed, then only the user's bucket is written", async () => {
    const h = harness({ bucketCount: 16, users: Array.from({ length: 20 }, () => user()) });
    const late = user({ groups: [] });
    h.stageCycle([{ kind: "groups", changes: [{ g: GROUP, u: late.id, a: true }] }]);
    const written: string[] = [];
    h.onChange((op, id) => {
      if (op === "upsert" && id.startsWith("bucket|")) written.push(id);
    });
    expect(await h.runCycle()).toBe("completed");
    expect(written).toHaveLength(1);
    expect(h.chunks.get(written[0]!)?.pending).toEqual({ [late.id]: [GROUP] });
  });
});
