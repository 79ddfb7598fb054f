import { afterEach, describe, expect, it } from "vitest";
import type { AppConfig } from "../../../shared/config/config.js";
import { Gate } from "../../../shared/concurrency/gate.js";
import type { Envelope } from "../../../shared/queue/envelope.js";
import type { SendOptions } from "../../../shared/queue/transport.js";
import type { SyncDeps } from "../../../shared/sync/deps.js";
import type { RunDocument } from "../../../shared/sync/documents.js";
import { FULL_PLAN_WAIT_SECONDS, fullPlans, runEnvironmentJob } from "../../../shared/sync/environment-run.js";
import { newRun } from "../../../shared/sync/runs.js";

/**
 * A full plan reads the tenant's every user and the environment's every record into memory, so a
 * process runs at most SYNC_FULL_PLANS_PER_PROCESS of them at once; the others go back on the queue.
 * The store here answers "no directory yet" when a plan starts: that is how the test sees planning begin.
 */
function harness(full: boolean) {
  const run: RunDocument = {
    ...newRun({ tenantId: "t", environmentId: "env", trigger: "schedule", requestedBy: null, now: new Date() }),
    full,
    targetCycle: 1,
    environment: { id: "env", displayName: "Env", type: "Production", dataverse: null, createdBy: null, appPassCapacity: false, region: null, expirationTime: null },
    settings: { syncEnabled: true, massDisableThresholdPercent: 10, defaultSecurityRoleIds: [] },
  } as RunDocument;
  const saved: RunDocument[] = [];
  const sent: { envelope: Envelope; options: SendOptions | undefined }[] = [];
  let plansStarted = 0;
  const deps = {
    config: { SYNC_FULL_PLANS_PER_PROCESS: 1, SYNC_LEASE_SECONDS: 300, SYNC_CHUNK_SECONDS: 120 } as AppConfig,
    store: {
      readRun: () => Promise.resolve({ doc: structuredClone(run), etag: "e0" }),
      save: (doc: RunDocument) => (saved.push(structuredClone(doc)), Promise.resolve(`e${saved.length}`)),
      readDirectoryState: () => (plansStarted++, Promise.resolve(undefined)),
      readJournal: () => (plansStarted++, Promise.resolve(undefined)),
    },
    queue: { send: (envelope: Envelope, options?: SendOptions) => (sent.push({ envelope, options }), Promise.resolve()) },
    isPaused: () => Promise.resolve(false),
    now: () => new Date(),
  } as unknown as SyncDeps;
  const job = () => runEnvironmentJob(deps, "t", { environmentId: "env", runId: run.runId, step: 1 }, "worker-1");
  return { job, saved, sent, plansStarted: () => plansStarted };
}

afterEach(() => {
  while (fullPlans.inUse > 0) fullPlans.leave();
});

describe("full sync plans per process", () => {
  it("when the process already runs its full plan, then another full run goes back on the queue for 30 s, as its next step, without planning", async () => {
    expect(fullPlans.tryEnter(1)).toBe(true); // another environment's full plan, in this process
    const h = harness(true);

    expect(await h.job()).toBe("continued");
    expect(h.plansStarted()).toBe(0);
    const last = h.saved.at(-1)!;
    expect(last).toMatchObject({ step: 2, lease: null, phase: "plan" });
    expect(last.resumeAt).toBeGreaterThan(Date.now() + (FULL_PLAN_WAIT_SECONDS - 5) * 1000);
    // A new step is a new message id: Service Bus duplicate detection would drop a re-send of the same one.
    expect(h.sent).toHaveLength(1);
    expect(h.sent[0]!.envelope.id).toBe(`${last.runId}.2`);
    expect(h.sent[0]!.options).toEqual({ delaySeconds: FULL_PLAN_WAIT_SECONDS });
  });

  it("when no full plan runs, then the run plans, and the gate is free again after it (also when planning failed)", async () => {
    const h = harness(true);
    await expect(h.job()).rejects.toMatchObject({ kind: "unavailable" }); // the store has no directory yet
    expect(h.plansStarted()).toBe(1);
    expect(fullPlans.inUse).toBe(0);
    expect(h.sent).toHaveLength(0);
  });

  it("when the run is incremental (only the changed users), then it plans even while a full plan runs", async () => {
    expect(fullPlans.tryEnter(1)).toBe(true);
    const h = harness(false);
    await expect(h.job()).rejects.toMatchObject({ kind: "unavailable" });
    expect(h.plansStarted()).toBe(1);
    expect(fullPlans.inUse).toBe(1);
  });
});

describe("Gate", () => {
  it("when full, then it refuses until one holder leaves", () => {
    const gate = new Gate();
    expect([gate.tryEnter(2), gate.tryEnter(2), gate.tryEnter(2)]).toEqual([true, true, false]);
    gate.leave();
    expect(gate.tryEnter(2)).toBe(true);
    expect(gate.inUse).toBe(2);
  });
});
