import type { ClientSecretCredential } from "@azure/identity";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DEMO_IDS } from "../../../local/sim-cloud/demo-tenant.js";
import { DataverseClient, type BatchOperation } from "../../../shared/clients/dataverse.js";
import type { RetryBudget } from "../../../shared/clients/graph.js";
import { AppError } from "../../../shared/errors/app-error.js";
import type { SystemUserRow } from "../../../shared/sync/model.js";
import { startTestSim, type TestSim } from "../sim-cloud/support.js";

/**
 * D12: operations throttled inside a Dataverse $batch (the simulated cloud's `inBatch` fault rules
 * answer a matching operation's own part with 429 and Retry-After). The client's waits go through
 * an injected sleep: the test sees how long it would have waited without waiting.
 */
let t: TestSim;
let credential: ClientSecretCredential;
let users: SystemUserRow[];
const P = DEMO_IDS.environments.production;

beforeAll(async () => {
  t = await startTestSim({ rateLimits: false });
  credential = t.credential;
  const rows = (await client().listSystemUsers({ pageSize: 500 })).rows;
  users = rows.filter((r) => r.azureactivedirectoryobjectid && !r.applicationid).slice(0, 5);
});
afterAll(async () => {
  await t?.sim.close();
});
afterEach(() => {
  t.sim.updateSettings({ faults: [] });
  t.sim.resetCounters();
});

function client(opts: { budget?: RetryBudget; deadline?: number; sleeps?: number[] } = {}): DataverseClient {
  return new DataverseClient({
    instanceUrl: t.sim.dataverseUrl(P),
    credential,
    budget: opts.budget ?? { maxRetries: 3, maxDelaySeconds: 10 },
    ...(opts.deadline !== undefined && { deadline: opts.deadline }),
    sleep: (ms) => {
      opts.sleeps?.push(ms);
      return Promise.resolve();
    },
  });
}

const id = (i: number) => users[i]!.systemuserid;
const patchTitle = (i: number, title: string): BatchOperation => ({ method: "PATCH", path: `systemusers(${id(i)})`, headers: { "If-Match": "*" }, body: { title } });
const read = (i: number): BatchOperation => ({ method: "GET", path: `systemusers(${id(i)})?$select=systemuserid,title` });
/** Throttles exactly the first `count` operations on these records (by id), with this Retry-After. */
const throttle = (indexes: number[], retryAfterSeconds: number, count?: number) => ({
  services: ["dataverse"], inBatch: true, pathPattern: `/systemusers\\((${indexes.map(id).join("|")})\\)$`, rate429: 1, retryAfterSeconds, ...(count !== undefined && { count }),
});
const itemsSent = () => Object.values(t.sim.counters().dataverse.batchItemsByKind).reduce((a, b) => a + b, 0);

describe("DataverseClient.batch with operations throttled inside the batch", () => {
  it("when some operations answer 429 with Retry-After 1 the first time, then only those are sent again after the wait, and every result comes back in order", async () => {
    t.sim.updateSettings({ faults: [throttle([1, 3], 1, 2)] });
    const sleeps: number[] = [];
    const ops = [patchTitle(0, "t0"), patchTitle(1, "t1"), read(2), patchTitle(3, "t3"), read(4)];
    const results = await client({ sleeps }).batch(ops);

    expect(results.map((r) => r.status)).toEqual([204, 204, 200, 204, 200]);
    expect((results[2]?.body as { systemuserid: string }).systemuserid).toBe(id(2));
    expect((results[4]?.body as { systemuserid: string }).systemuserid).toBe(id(4));
    expect(sleeps).toEqual([1000]);
    const c = t.sim.counters().dataverse;
    expect(c.byKind.$batch).toBe(2);
    expect(c.injectedFaults).toBe(2);
    // 5 operations, then the 2 throttled ones only.
    expect(itemsSent()).toBe(7);
    expect(c.batchItemsByKind["systemusers.update"]).toBe(5);
    const rows = new Map((await client().listSystemUsers({ pageSize: 500 })).rows.map((r) => [r.systemuserid, r]));
    for (const i of [0, 1, 3]) expect(rows.get(id(i))?.title).toBe(`t${i}`);
  });

  it("when throttled operations carry different Retry-After values, then the client waits the longest of them once", async () => {
    t.sim.updateSettings({ faults: [throttle([0], 3, 1), throttle([2], 1, 1)] });
    const sleeps: number[] = [];
    const results = await client({ sleeps }).batch([patchTitle(0, "a"), patchTitle(1, "b"), patchTitle(2, "c")]);
    expect(results.map((r) => r.status)).toEqual([204, 204, 204]);
    expect(sleeps).toEqual([3000]);
    expect(itemsSent()).toBe(5);
  });

  it("when an operation stays throttled past the retry budget, then it comes back as its 429 with its Retry-After, and the others succeed", async () => {
    t.sim.updateSettings({ faults: [throttle([1], 2)] });
    const sleeps: number[] = [];
    const results = await client({ sleeps, budget: { maxRetries: 2, maxDelaySeconds: 10 } }).batch([patchTitle(0, "x"), patchTitle(1, "y"), patchTitle(2, "z")]);
    expect(results.map((r) => r.status)).toEqual([204, 429, 204]);
    expect(results[1]?.headers["retry-after"]).toBe("2");
    expect(sleeps).toEqual([2000, 2000]);
    expect(itemsSent()).toBe(5);
  });

  it("when the Retry-After is longer than the budget's longest wait or would end past the caller's deadline, then it is not waited for", async () => {
    t.sim.updateSettings({ faults: [throttle([0], 30)] });
    const sleeps: number[] = [];
    const overBudget = await client({ sleeps }).batch([patchTitle(0, "x"), patchTitle(1, "y")]);
    expect(overBudget.map((r) => r.status)).toEqual([429, 204]);
    expect(overBudget[0]?.headers["retry-after"]).toBe("30");

    t.sim.updateSettings({ faults: [throttle([0], 5)] });
    const pastDeadline = await client({ sleeps, deadline: Date.now() + 3000 }).batch([patchTitle(0, "x"), patchTitle(1, "y")]);
    expect(pastDeadline.map((r) => r.status)).toEqual([429, 204]);
    expect(sleeps).toEqual([]);
  });
});

describe("DataverseClient.systemUsersByObjectIds when a read inside its $batch stays throttled", () => {
  /** Throttles the reads of systemusers by filter (the GET parts of the batch), not single records. */
  const throttleReads = (fault: "rate429" | "rate503", retryAfterSeconds: number, count?: number) => ({
    services: ["dataverse"], inBatch: true, pathPattern: "/systemusers$", [fault]: 1, retryAfterSeconds, ...(count !== undefined && { count }),
  });
  const objectIds = () => users.map((r) => r.azureactivedirectoryobjectid!);

  async function failure(p: Promise<unknown>): Promise<AppError> {
    const err = await p.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }

  it("when the read item is throttled past the retry budget, then it is the transient unavailable (503) with the item's Retry-After, not upstream", async () => {
    t.sim.updateSettings({ faults: [throttleReads("rate429", 2)] });
    const sleeps: number[] = [];

    const err = await failure(client({ sleeps, budget: { maxRetries: 2, maxDelaySeconds: 10 } }).systemUsersByObjectIds(objectIds()));

    expect(err).toMatchObject({ kind: "unavailable", status: 503, retryAfterSeconds: 2, transient: true });
    expect(sleeps).toEqual([2000, 2000]);
  });

  it("when the read item's Retry-After is longer than the budget allows or it answers 503, then unavailable carries that Retry-After", async () => {
    t.sim.updateSettings({ faults: [throttleReads("rate429", 90)] });
    expect(await failure(client().systemUsersByObjectIds(objectIds()))).toMatchObject({ kind: "unavailable", retryAfterSeconds: 90 });

    t.sim.updateSettings({ faults: [throttleReads("rate503", 45)] });
    expect(await failure(client().systemUsersByObjectIds(objectIds()))).toMatchObject({ kind: "unavailable", retryAfterSeconds: 45 });
  });

  it("when the read item is throttled within the budget, then the records come back after the wait", async () => {
    t.sim.updateSettings({ faults: [throttleReads("rate429", 1, 1)] });
    const sleeps: number[] = [];
    const rows = await client({ sleeps }).systemUsersByObjectIds(objectIds());
    expect(rows.map((r) => r.systemuserid).sort()).toEqual(users.map((r) => r.systemuserid).sort());
    expect(sleeps).toEqual([1000]);
  });
});
