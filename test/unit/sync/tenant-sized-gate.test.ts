import { afterEach, describe, expect, it } from "vitest";
import type { AppConfig } from "../../../shared/config/config.js";
import { Gate } from "../../../shared/concurrency/gate.js";
import { AppError } from "../../../shared/errors/app-error.js";
import type { Envelope } from "../../../shared/queue/envelope.js";
import type { SendOptions } from "../../../shared/queue/transport.js";
import type { SyncDeps } from "../../../shared/sync/deps.js";
import { runDirectoryJob } from "../../../shared/sync/directory-cycle.js";
import type { ActiveCycle, DirectoryState, RunDocument } from "../../../shared/sync/documents.js";
import { runEnvironmentJob } from "../../../shared/sync/environment-run.js";
import { newRun } from "../../../shared/sync/runs.js";
import { TENANT_SIZED_WAIT_SECONDS as WAIT, tenantSizedWork as gate } from "../../../shared/sync/tenant-sized.js";

/**
 * A full plan reads the tenant's every user and the environment's every record into memory, and the
 * directory cycle's fold of a full read the whole snapshot: a process runs at most
 * SYNC_TENANT_SIZED_JOBS_PER_PROCESS of them at once; the others go back on the queue. The stores
 * here fail (transiently) as soon as the work starts reading: that is how the tests see it begin.
 */
const config = { SYNC_TENANT_SIZED_JOBS_PER_PROCESS: 1, SYNC_LEASE_SECONDS: 300, SYNC_CHUNK_SECONDS: 120 } as unknown as AppConfig;

/** Sync deps over a store with the given reads: records every document saved and every job sent. */
function fakeDeps<D>(reads: Record<string, (...args: unknown[]) => Promise<unknown>>) {
  const saved: D[] = [];
  const sent: { envelope: Envelope; options: SendOptions | undefined }[] = [];
  const deps = {
    config,
    store: { ...reads, save: (doc: D) => (saved.push(structuredClone(doc)), Promise.resolve(`e${saved.length}`)) },
    queue: { send: (envelope: Envelope, options?: SendOptions) => (sent.push({ envelope, options }), Promise.resolve()) },
    isPaused: () => Promise.resolve(false),
    now: () => new Date(),
  } as unknown as SyncDeps;
  return { deps, saved, sent };
}
function harness(full: boolean) {
  const run: RunDocument = {
    ...newRun({ tenantId: "t", environmentId: "env", trigger: "schedule", requestedBy: null, now: new Date() }),
    full,
    targetCycle: 1,
    environment: { id: "env", displayName: "Env", type: "Production", dataverse: null, createdBy: null, appPassCapacity: false, region: null, expirationTime: null },
    settings: { syncEnabled: true, massDisableThresholdPercent: 10, defaultSecurityRoleIds: [] },
  } as RunDocument;
  let plansStarted = 0;
  const { deps, saved, sent } = fakeDeps<RunDocument>({
    readRun: () => Promise.resolve({ doc: structuredClone(run), etag: "e0" }),
    readDirectoryState: () => (plansStarted++, Promise.resolve(undefined)),
    readJournal: () => (plansStarted++, Promise.resolve(undefined)),
  });
  const job = () => runEnvironmentJob(deps, "t", { environmentId: "env", runId: run.runId, step: 1 }, "worker-1");
  return { job, saved, sent, plansStarted: () => plansStarted };
}

afterEach(() => {
  while (gate.inUse > 0) gate.leave();
});

describe("full sync plans per process", () => {
  it("when the process already runs its full plan, then another full run goes back on the queue for 30 s, as its next step, without planning", async () => {
    expect(gate.tryEnter(1)).toBe(true); // another environment's full plan, in this process
    const h = harness(true);

    expect(await h.job()).toBe("continued");
    expect(h.plansStarted()).toBe(0);
    const last = h.saved.at(-1)!;
    expect(last).toMatchObject({ step: 2, lease: null, phase: "plan" });
    expect(last.resumeAt).toBeGreaterThan(Date.now() + (WAIT - 5) * 1000);
    // A new step is a new message id: Service Bus duplicate detection would drop a re-send of the same one.
    expect(h.sent).toHaveLength(1);
    expect(h.sent[0]!.envelope.id).toBe(`${last.runId}.2`);
    expect(h.sent[0]!.options).toEqual({ delaySeconds: WAIT });
  });

});

function directoryHarness(fullRead: boolean) {
  const active = {
    cycle: 4, step: 1, startedAt: new Date().toISOString(), phase: "fold", usersFull: fullRead, usersNextLink: null, usersDeltaLink: null, groupsFull: false,
    groupStreamIndex: 0, groupNextLink: null, groupRoundFull: false, newGroupStreams: [], staged: 3, facts: null, environments: [], trackedGroups: [],
    reevaluateAll: false, fullCycle: false, journalDocs: 0, bucketCount: 8,
  } as unknown as ActiveCycle;
  const state = {
    id: "directory-state", type: "directory-state", tenantId: "t", partitionKey: "t|directory", cycle: 3, usersDeltaLink: "x", groupStreams: [], bucketCount: 8,
    facts: null, environments: [], journal: {}, fullCycles: [], journalFloor: 0, lastCycleAt: null, active, lease: null,
  } as unknown as DirectoryState;
  let foldsStarted = 0;
  const { deps, saved, sent } = fakeDeps<DirectoryState>({
    loadDirectory: () => Promise.resolve({ state: { doc: structuredClone(state), etag: "e0" }, environments: new Map() }),
    readStaging: () => (foldsStarted++, Promise.reject(new AppError("unavailable", "stop here", { retryAfterSeconds: 1 }))),
  });
  const job = () => runDirectoryJob(deps, "t", { trigger: "continue", cycle: 4, step: 1 }, "worker-1");
  return { job, saved, sent, foldsStarted: () => foldsStarted };
}

describe("the directory cycle's fold per process", () => {
  it("when a full read is to be folded while the process already holds a tenant, then the cycle goes back on the queue for 30 s, as its next step", async () => {
    expect(gate.tryEnter(1)).toBe(true);
    const h = directoryHarness(true);
    expect(await h.job()).toBe("continued");
    expect(h.foldsStarted()).toBe(0);
    expect(h.saved.at(-1)!.active).toMatchObject({ step: 2, phase: "fold" });
    expect(h.sent).toHaveLength(1);
    expect(h.sent[0]!.envelope.body).toEqual({ trigger: "continue", cycle: 4, step: 2 });
    expect(h.sent[0]!.options).toEqual({ delaySeconds: WAIT });
  });

});

/** Both kinds of tenant-sized work, started in full and (not bounded) incrementally; each harness fails as the work starts reading. */
const kinds = [
  {
    kind: "an environment's plan",
    full: () => harness(true),
    incremental: () => harness(false),
    started: (h: ReturnType<typeof harness>) => h.plansStarted(),
    failure: { kind: "unavailable" }, // the store has no directory yet
  },
  {
    kind: "the directory cycle's fold",
    full: () => directoryHarness(true),
    incremental: () => directoryHarness(false),
    started: (h: ReturnType<typeof directoryHarness>) => h.foldsStarted(),
    failure: { message: "stop here" },
  },
] as const;

describe.each(kinds)("$kind", ({ full, incremental, started, failure }) => {
  const startedIn = started as (h: ReturnType<typeof harness> | ReturnType<typeof directoryHarness>) => number;

  it("when nothing else holds a tenant, then the full work starts, and its place is free again afterwards (also when it failed)", async () => {
    const h = full();
    await expect(h.job()).rejects.toMatchObject(failure);
    expect(startedIn(h)).toBe(1);
    expect(gate.inUse).toBe(0);
    expect(h.sent).toHaveLength(0);
  });

  it("when the work is incremental (only the changes), then it starts even while a tenant-sized job runs", async () => {
    expect(gate.tryEnter(1)).toBe(true);
    const h = incremental();
    await expect(h.job()).rejects.toMatchObject(failure);
    expect(startedIn(h)).toBe(1);
    expect(gate.inUse).toBe(1);
  });
});

describe("Gate", () => {
  it("when a place is taken twice and released twice, then it counts once", () => {
    const g = new Gate();
    const place = g.place();
    expect(place.take(1)).toBe(true);
    expect(place.take(1)).toBe(true);
    expect(g.inUse).toBe(1);
    expect(g.place().take(1)).toBe(false);
    place.release();
    place.release();
    expect(g.inUse).toBe(0);
  });

  it("when full, then it refuses until one holder leaves", () => {
    const gate = new Gate();
    expect([gate.tryEnter(2), gate.tryEnter(2), gate.tryEnter(2)]).toEqual([true, true, false]);
    gate.leave();
    expect(gate.tryEnter(2)).toBe(true);
    expect(gate.inUse).toBe(2);
  });
});
