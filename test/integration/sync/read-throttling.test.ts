import { describe, expect, it } from "vitest";
import { DEMO_IDS, demoRoleId, demoUserId } from "../../../local/sim-cloud/demo-tenant.js";
import { byObjectId, useSyncStack } from "./support.js";

/**
 * D12: a read of records (GET systemusers by object id, a part of a Dataverse $batch) throttled past
 * what the run may wait is no failure of the run: the chunk is retried after the item's
 * Retry-After. Chunks are 4 s here, so the apply phase cannot wait a Retry-After of 6 s.
 */
const P = DEMO_IDS.environments.production;
const u = demoUserId;

const stack = useSyncStack({ appSettings: { SYNC_CHUNK_SECONDS: "4" } });

/** The reads of systemusers inside a $batch (not the PATCHes of single records) answer 429 `count` times. */
const throttleReads = (retryAfterSeconds: number, count: number) =>
  stack.sim("/settings", {
    method: "PATCH",
    body: { faults: [{ services: ["dataverse"], inBatch: true, pathPattern: "/systemusers$", rate429: 1, retryAfterSeconds, count }] },
  });
const injectedFaults = async () => (await stack.sim<{ dataverse: { injectedFaults: number } }>("/counters")).dataverse.injectedFaults;

describe("D12 a read inside a Dataverse $batch throttled past what the run may wait", () => {
  it("when the read of the users just added is throttled, then the run retries after its Retry-After and they get their default roles (D14)", async () => {
    const salesPerson = demoRoleId(P, "Sales Person");
    const enabled = await stack.configure(P, { syncEnabled: true, massDisableThresholdPercent: 50, defaultSecurityRoleIds: [salesPerson] });
    expect(enabled.status, await enabled.clone().text()).toBe(200);
    await throttleReads(6, 1);

    const run = await stack.runNow(P);

    expect(run, run.error ?? "").toMatchObject({ state: "succeeded", counts: { failed: 0 } });
    expect(run.failures).toEqual([]);
    // The direct members without a record whom the periodic sync may add: the Dynamics 365 admin (6) and the
    // holders of a Power Platform license (Office 365 E3 alone counts for on-demand adds only, D2).
    expect(run.counts.added).toBe(7);
    expect(await injectedFaults()).toBe(1);
    const rows = byObjectId(await stack.rows(P));
    for (const n of [6, 57, 58, 65, 68, 76, 78]) expect(rows.get(u(n)), `user ${n}`).toMatchObject({ isdisabled: false, roles: [salesPerson] });
  });

  it("when the incremental plan's read of the changed users stays throttled past the retry budget, then the run is retried, not failed", async () => {
    expect((await stack.configure(P, { syncEnabled: true, massDisableThresholdPercent: 50 })).status).toBe(200);
    expect(await stack.runNow(P)).toMatchObject({ state: "succeeded" });
    await stack.sim(`/users/${u(21)}`, { method: "PATCH", body: { jobTitle: "Read after throttling" } });
    // The background budget retries 8 times: the 9th answer is handed back still throttled.
    await throttleReads(1, 9);
    await stack.sim("/counters/reset", { body: {} });

    const run = await stack.tickAndWait(P);

    expect(run, run.error ?? "").toMatchObject({ state: "succeeded", full: false, counts: { updated: 1, failed: 0 } });
    expect(await injectedFaults()).toBe(9);
    expect(byObjectId(await stack.rows(P)).get(u(21))?.title).toBe("Read after throttling");
  });
});

describe("D12/D14 a role association inside a Dataverse $batch throttled past what the run may wait", () => {
  it("when the default-role associations of the users just added are throttled, then the run retries after their Retry-After and the users get their roles (no role failure)", async () => {
    const salesPerson = demoRoleId(P, "Sales Person");
    const enabled = await stack.configure(P, { syncEnabled: true, massDisableThresholdPercent: 50, defaultSecurityRoleIds: [salesPerson] });
    expect(enabled.status, await enabled.clone().text()).toBe(200);
    await stack.sim("/settings", {
      method: "PATCH",
      body: { faults: [{ services: ["dataverse"], inBatch: true, pathPattern: "/systemuserroles_association/\\$ref$", rate429: 1, retryAfterSeconds: 6, count: 7 }] },
    });

    const run = await stack.runNow(P);

    expect(run, run.error ?? "").toMatchObject({ state: "succeeded", counts: { added: 7, failed: 0 } });
    expect(run.failures).toEqual([]);
    expect(await injectedFaults()).toBe(7);
    const rows = byObjectId(await stack.rows(P));
    for (const n of [6, 57, 58, 65, 68, 76, 78]) expect(rows.get(u(n)), `user ${n}`).toMatchObject({ isdisabled: false, roles: [salesPerson] });
  });
});
