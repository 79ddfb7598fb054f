import { afterEach, describe, expect, it } from "vitest";
import { DEMO_IDS, demoUserId } from "../../../local/sim-cloud/demo-tenant.js";
import { byObjectId, useSyncStack } from "./support.js";

/**
 * D13: an approved run judges its held disables against a directory read begun after the approval.
 * When no such read can finish (Graph failing on every delta page), the run does not wait for ever:
 * past SYNC_APPROVAL_READ_TIMEOUT_SECONDS it fails, saying why, and disables no one.
 */
const P = DEMO_IDS.environments.production;
const LEAVING = [20, 21, 22, 23, 24, 26, 27, 28].map(demoUserId);

const stack = useSyncStack({ appSettings: { SYNC_APPROVAL_READ_TIMEOUT_SECONDS: "10" } });
afterEach(async () => {
  await stack.sim("/settings", { method: "PATCH", body: { faults: [] } });
});

describe("D13 approval when the directory cannot be read", () => {
  it("when every directory read fails after the approval, then the run fails past the wait with a reason and nobody is disabled", async () => {
    await stack.sim("/settings", { method: "PATCH", body: { dataverse: { refuseSyncedUserDisable: false } } });
    expect((await stack.configure(P, { syncEnabled: true, massDisableThresholdPercent: 100 })).status).toBe(200);
    await stack.runNow(P);
    expect((await stack.configure(P, { massDisableThresholdPercent: 10 })).status).toBe(200);
    await stack.sim(`/groups/${DEMO_IDS.groups.sales}/members`, { method: "PATCH", body: { remove: LEAVING } });
    const held = await stack.tickAndWait(P);
    expect(held).toMatchObject({ state: "awaiting-approval", guard: { disables: 8 } });
    // From now on Graph fails every delta read (users and groups): no directory cycle can finish.
    await stack.sim("/settings", { method: "PATCH", body: { faults: [{ services: ["graph"], pathPattern: "delta", rate500: 1 }] } });

    const approve = await stack.call(stack.env(P, `/sync-runs/${held.id}/approve`), { method: "POST", token: stack.admin });
    expect(approve.status, await approve.clone().text()).toBe(202);
    const done = await stack.waitForRun(P, held.id);

    expect(done.state).toBe("failed");
    expect(done.error).toMatch(/no read of the tenant's directory begun since then finished within/);
    expect(done.counts).toMatchObject({ disabled: 0 });
    const rows = byObjectId(await stack.rows(P));
    for (const id of LEAVING) expect(rows.get(id)?.isdisabled, `user ${id}`).toBe(false);
  });
});
