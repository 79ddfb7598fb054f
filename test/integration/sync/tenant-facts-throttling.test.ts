import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BACKGROUND_BUDGET, createGraphClient } from "../../../shared/clients/graph.js";
import { AppError } from "../../../shared/errors/app-error.js";
import { readTenantFacts } from "../../../shared/sync/directory-reader.js";
import { startTestSim, type TestSim } from "../sim-cloud/support.js";

/**
 * D12: the tenant facts are read in one Graph $batch; an item still throttled past the background
 * budget (here: a Retry-After longer than it waits) fails the read with that item's Retry-After, so
 * the directory cycle is retried when Graph asked, not after a guessed 5 s.
 */
let t: TestSim;

beforeAll(async () => {
  t = await startTestSim({ rateLimits: false });
});
afterAll(async () => {
  await t?.sim.close();
});
afterEach(() => {
  t.sim.updateSettings({ faults: [] });
  t.sim.resetCounters();
});

const graph = () => createGraphClient({ baseUrl: t.sim.graphBaseUrl, credential: t.credential, budget: BACKGROUND_BUDGET, background: true });

async function failure(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe("readTenantFacts when an item of its Graph $batch stays throttled", () => {
  const longerThanBudget = BACKGROUND_BUDGET.maxDelaySeconds + 60;

  it("when the subscribed products answer 429 with a Retry-After beyond the budget, then unavailable carries that Retry-After", async () => {
    t.sim.updateSettings({ faults: [{ services: ["graph"], pathPattern: "/subscribedSkus$", rate429: 1, retryAfterSeconds: longerThanBudget }] });

    const err = await failure(readTenantFacts(graph(), []));

    expect(err).toMatchObject({ kind: "unavailable", status: 503, retryAfterSeconds: longerThanBudget });
    expect(t.sim.counters().graph.byKind.$batch).toBe(1);
  });

  it("when an admin role's members answer 503 with a Retry-After beyond the budget, then unavailable carries that Retry-After", async () => {
    t.sim.updateSettings({ faults: [{ services: ["graph"], pathPattern: "/directoryRoles", rate503: 1, retryAfterSeconds: longerThanBudget + 1 }] });

    expect(await failure(readTenantFacts(graph(), []))).toMatchObject({ kind: "unavailable", retryAfterSeconds: longerThanBudget + 1 });
  });

  it("when nothing is throttled, then the facts are read", async () => {
    const facts = await readTenantFacts(graph(), []);
    expect(Object.keys(facts.skus).length).toBeGreaterThan(0);
    expect(facts.admins.global.length).toBeGreaterThan(0);
  });
});
