import { describe, expect, it } from "vitest";
import { DEMO_IDS } from "../../../local/sim-cloud/demo-tenant.js";
import { useSyncStack } from "./support.js";

/**
 * A Microsoft server error during a sync job is passing (A11, D12): the job is retried like an
 * outage and resumes under its lease. As a permanent failure it held the lease - and every run of
 * the tenant, answered 409 sync-run-in-progress - until the lease expired minutes later.
 */
const E = DEMO_IDS.environments;
const stack = useSyncStack();

describe("a Microsoft server error in a sync job", () => {
  it("when Graph answers the directory's delta read with a 500 once, then the run is retried and finishes", async () => {
    await stack.configure(E.sandbox, { syncEnabled: true });
    await stack.sim("/settings", { method: "PATCH", body: { faults: [{ services: ["graph"], pathPattern: "delta", rate500: 1, count: 1 }] } });
    const started = await stack.call(stack.env(E.sandbox, "/sync-runs"), { method: "POST", token: stack.admin });
    expect(started.status).toBe(202);
    const { id } = (await started.json()) as { id: string };
    const run = await stack.waitForRun(E.sandbox, id);
    expect(run).toMatchObject({ state: "succeeded", error: null });
    const counters = await stack.sim<{ graph: { injectedFaults: number } }>("/counters");
    expect(counters.graph.injectedFaults).toBe(1);
  });
});
