import { describe, expect, it } from "vitest";
import { DEMO_IDS, demoUserId } from "../../../local/sim-cloud/demo-tenant.js";
import { createQueueSender } from "../../../shared/queue/create-sender.js";
import { newEnvelope } from "../../../shared/queue/envelope.js";
import { FIRST_ACCESS_KIND } from "../../../shared/sync/first-access.js";
import { byObjectId, eventually, useSyncStack } from "./support.js";

/**
 * D2: the Power Apps, Power Automate and Dataverse plans of Microsoft 365 / Office 365 licenses
 * ("… for Office 365") are honoured for on-demand adds only. Users 62 and 80 of the demo tenant
 * hold Office 365 E3 alone (POWERAPPS_O365_P2, FLOW_O365_P2) and are direct members of the Sales
 * security group of the Production environment, with no record there.
 */
const P = DEMO_IDS.environments.production;
const u = demoUserId;

const stack = useSyncStack();

async function syncOnce() {
  const res = await stack.configure(P, { syncEnabled: true, massDisableThresholdPercent: 50 });
  expect(res.status, await res.clone().text()).toBe(200);
  const run = await stack.runNow(P);
  expect(run, run.error ?? "").toMatchObject({ state: "succeeded", counts: { failed: 0 } });
  return run;
}

describe("D2 Office 365 E3 only: on-demand adds, not the periodic sync", () => {
  it("when the periodic sync runs, then an E3-only member of the security group is not added, and an admin's on-demand add adds them", async () => {
    await syncOnce();
    expect(byObjectId(await stack.rows(P)).has(u(62)), "added by the periodic sync").toBe(false);

    const diagnostics = await stack.call(stack.env(P, `/users/${u(62)}/diagnostics`), { token: stack.admin });
    expect(diagnostics.status).toBe(200);
    const d = (await diagnostics.json()) as { rules: { id: string }[] };
    expect(d.rules.find((r) => r.id === "D2.license")).toMatchObject({
      passed: false, passedOnDemand: true, data: { grantingLicenses: [], freeDataversePlanLicenses: ["ENTERPRISEPACK"] },
    });

    const res = await stack.call(stack.env(P, "/users"), { method: "POST", token: stack.admin, body: JSON.stringify({ userId: u(62) }) });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ userId: u(62), outcome: "added" });
    expect(byObjectId(await stack.rows(P)).get(u(62))).toMatchObject({ isdisabled: false });

    // The next full reconcile keeps the record the on-demand add created.
    const again = await stack.runNow(P);
    expect(again).toMatchObject({ state: "succeeded", counts: { disabled: 0 } });
    expect(byObjectId(await stack.rows(P)).get(u(62))?.isdisabled).toBe(false);
  });

  it("when an E3-only member first opens the environment, then the first-access event adds them", async () => {
    await syncOnce();
    expect(byObjectId(await stack.rows(P)).has(u(80)), "added by the periodic sync").toBe(false);

    const events = createQueueSender({ transport: "storage-queue", queueName: "events", connection: { connectionString: stack.storageConnectionString } });
    await events.send(newEnvelope({ kind: FIRST_ACCESS_KIND, tenantId: stack.tenantId, body: { userId: u(80), environmentId: P, occurredAt: new Date().toISOString() } }));
    const row = await eventually(async () => byObjectId(await stack.rows(P)).get(u(80)), "the first-access add");
    expect(row.isdisabled).toBe(false);
  });
});
