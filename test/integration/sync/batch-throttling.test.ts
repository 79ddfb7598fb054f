import { describe, expect, it } from "vitest";
import { DEMO_IDS, demoUserId } from "../../../local/sim-cloud/demo-tenant.js";
import { byObjectId, useSyncStack } from "./support.js";

/**
 * D12: updates and disables throttled one by one inside the run's Dataverse $batch (the simulated
 * cloud answers those operations' parts with 429 + Retry-After) past what the chunk can wait: the
 * run leaves them for a later chunk, which starts after their Retry-After, and applies them then -
 * none lost, none counted twice, a throttled disable never taken for the platform's refusal.
 * Chunks are 4 s here, so a Retry-After of 6 s never fits in the chunk's deadline.
 */
const P = DEMO_IDS.environments.production;
const u = demoUserId;
const RETRY_AFTER = 6;

const stack = useSyncStack({ appSettings: { SYNC_CHUNK_SECONDS: "4" } });

/** Every wait (resumeAt - last checkpoint, ms) a run of the environment was seen to be sent into, until stop() is called. */
function watchDeferrals(environmentId: string): { stop(): Promise<number[]> } {
  const seen = new Map<string, number>();
  let running = true;
  const loop = (async () => {
    const container = stack.database.container("sync");
    while (running) {
      const { resources } = await container.items
        .query<{ runId: string; step: number; resumeAt: number | null; heartbeatAt: number }>({
          query: "SELECT c.runId, c.step, c.resumeAt, c.heartbeatAt FROM c WHERE c.type = 'run' AND c.environmentId = @e",
          parameters: [{ name: "@e", value: environmentId }],
        })
        .fetchAll();
      for (const r of resources) if (r.resumeAt !== null) seen.set(`${r.runId}|${r.step}`, r.resumeAt - r.heartbeatAt);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return [...seen.values()];
    },
  };
}

describe("D12 operations throttled inside a Dataverse $batch", () => {
  it("when profile updates and a disable are throttled past what the chunk can wait, then a later chunk applies them after their Retry-After and the counts are right", async () => {
    await stack.sim("/settings", { method: "PATCH", body: { dataverse: { refuseSyncedUserDisable: false } } });
    const enabled = await stack.configure(P, { syncEnabled: true, massDisableThresholdPercent: 50 });
    expect(enabled.status, await enabled.clone().text()).toBe(200);
    expect(await stack.runNow(P)).toMatchObject({ state: "succeeded" });

    for (const n of [21, 22, 23]) await stack.sim(`/users/${u(n)}`, { method: "PATCH", body: { jobTitle: `Throttled title ${n}` } });
    await stack.sim(`/users/${u(24)}/disable`, { body: {} });
    // Every PATCH of a record (the run's updates and disables) answers 429 once, in its own part.
    await stack.sim("/settings", {
      method: "PATCH",
      body: { faults: [{ services: ["dataverse"], inBatch: true, pathPattern: "/systemusers\\([0-9a-f-]+\\)$", rate429: 1, retryAfterSeconds: RETRY_AFTER, count: 4 }] },
    });
    await stack.sim("/counters/reset", { body: {} });

    const watch = watchDeferrals(P);
    const run = await stack.tickAndWait(P);
    const deferrals = await watch.stop();

    expect(run).toMatchObject({ state: "succeeded", full: false, counts: { updated: 3, disabled: 1, drift: 0, failed: 0, added: 0 } });
    const rows = byObjectId(await stack.rows(P));
    for (const n of [21, 22, 23]) expect(rows.get(u(n))?.title, `user ${n}`).toBe(`Throttled title ${n}`);
    expect(rows.get(u(24))?.isdisabled).toBe(true);
    const counters = await stack.sim<{ dataverse: { injectedFaults: number; batchItemsByKind: Record<string, number> } }>("/counters");
    expect(counters.dataverse.injectedFaults).toBe(4);
    // Each of the 4 PATCHes was sent twice: throttled, then applied in the later chunk.
    expect(counters.dataverse.batchItemsByKind["systemusers.update"]).toBe(8);
    // The run waited for the items' Retry-After (not a fixed 30 s) before the chunk that applied them.
    expect(deferrals.length).toBeGreaterThan(0);
    for (const ms of deferrals) {
      expect(ms).toBeGreaterThan((RETRY_AFTER - 1) * 1000);
      expect(ms).toBeLessThanOrEqual(RETRY_AFTER * 1000);
    }
    const drift = (await (await stack.call(stack.env(P, "/users?limit=200"), { token: stack.admin })).json()) as { items: { userId: string | null; drift: unknown }[] };
    expect(drift.items.find((i) => i.userId === u(24))?.drift ?? null).toBeNull();
  });
});
