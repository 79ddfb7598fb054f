import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEMO_IDS, DEMO_SKUS, DEMO_TENANT_ID } from "../../../local/sim-cloud/demo-tenant.js";
import { startTestSim, type TestSim } from "./support.js";

let t: TestSim;
beforeAll(async () => {
  t = await startTestSim({ rateLimits: false });
});
afterAll(async () => {
  await t.sim.close();
});
beforeEach(() => {
  t.sim.reset();
});

const NEW_USER = "e0000000-0000-4000-8000-0000000000a1";

async function graphUser(id: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await t.call(`${t.sim.graphBaseUrl}/v1.0/users/${id}?$select=id,displayName,accountEnabled,assignedLicenses,licenseAssignmentStates`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("the admin API (/_admin)", () => {
  it("when a user is added, updated, disabled, soft-deleted, restored and hard-deleted, then Graph reflects each step", async () => {
    const created = await t.admin("POST", "/users", { id: NEW_USER, userPrincipalName: "new.person@contoso-sim.onmicrosoft.com", displayName: "New Person", usageLocation: "NL", licenses: [{ skuId: DEMO_SKUS.office365E3 }] });
    expect(created.status).toBe(201);
    expect((await graphUser(NEW_USER)).body).toMatchObject({ displayName: "New Person", accountEnabled: true, assignedLicenses: [{ skuId: DEMO_SKUS.office365E3, disabledPlans: [] }] });
    expect((await t.admin("PATCH", `/users/${NEW_USER}`, { displayName: "Renamed Person" })).status).toBe(200);
    expect((await t.admin("PATCH", `/users/${NEW_USER}`, { id: "nope" })).status).toBe(400);
    expect((await t.admin("POST", `/users/${NEW_USER}/disable`)).status).toBe(200);
    expect((await graphUser(NEW_USER)).body).toMatchObject({ displayName: "Renamed Person", accountEnabled: false });
    await t.admin("POST", `/users/${NEW_USER}/soft-delete`);
    expect((await graphUser(NEW_USER)).status).toBe(404);
    await t.admin("POST", `/users/${NEW_USER}/restore`);
    expect((await graphUser(NEW_USER)).status).toBe(200);
    expect((await t.admin("DELETE", `/users/${NEW_USER}`)).status).toBe(204);
    expect((await graphUser(NEW_USER)).status).toBe(404);
    expect((await t.admin("POST", `/users/${NEW_USER}/restore`)).status).toBe(404);
    expect((await t.admin("POST", "/users", { id: "bad" })).status).toBe(400);
  });

  it("when licenses are set directly, then the states (including group errors) are stored without Graph's checks", async () => {
    const res = await t.admin("PUT", `/users/${DEMO_IDS.users.noUsageLocation}/licenses`, {
      licenses: [{ skuId: DEMO_SKUS.powerAppsPerUser }, { skuId: DEMO_SKUS.powerAutomatePremium, assignedByGroup: DEMO_IDS.groups.automationCoE, state: "Error", error: "CountViolation" }],
    });
    expect(res.status).toBe(200);
    const user = await graphUser(DEMO_IDS.users.noUsageLocation);
    expect(user.body.assignedLicenses).toEqual([{ skuId: DEMO_SKUS.powerAppsPerUser, disabledPlans: [] }]);
    expect(user.body.licenseAssignmentStates).toEqual(expect.arrayContaining([expect.objectContaining({ skuId: DEMO_SKUS.powerAutomatePremium, error: "CountViolation", state: "Error" })]));
  });

  it("when a group is created with members and licenses, then members get the group license", async () => {
    const groupId = "e0000000-0000-4000-8000-0000000000b1";
    const res = await t.admin("POST", "/groups", { id: groupId, displayName: "Made by a test", members: [DEMO_IDS.users.member], assignedLicenses: [{ skuId: DEMO_SKUS.powerAutomatePerUser }] });
    expect(res.status).toBe(201);
    const states = (await graphUser(DEMO_IDS.users.member)).body.licenseAssignmentStates as Array<{ assignedByGroup: string | null; state: string }>;
    expect(states.find((s) => s.assignedByGroup === groupId)?.state).toBe("Active");
    expect((await t.call(`${t.sim.graphBaseUrl}/v1.0/groups/${groupId}/members`)).status).toBe(200);
  });

  it("when a role member is added, then role assignments show it", async () => {
    const role = "11648597-926c-4cf3-9c36-bcebb0ba8dcc";
    await t.admin("POST", `/roles/${role}/members`, { add: [DEMO_IDS.users.member] });
    const res = (await (await t.call(`${t.sim.graphBaseUrl}/v1.0/roleManagement/directory/roleAssignments?$filter=roleDefinitionId eq '${role}'`)).json()) as { value: Array<{ principalId: string }> };
    expect(res.value.map((a) => a.principalId)).toContain(DEMO_IDS.users.member);
  });

  it("when a Dataverse environment's users are read directly, then every systemuser comes with its roles; unknown environments are 404", async () => {
    const env = DEMO_IDS.environments.production;
    const res = await t.admin("GET", `/dataverse/${env}/systemusers`);
    expect(res.status).toBe(200);
    const users = (res.json as { value: Array<{ systemuserid: string; roles: string[]; azureactivedirectoryobjectid: string | null }> }).value;
    expect(users.length).toBe(t.sim.state.environment(env)?.db?.users.size);
    const admin = users.find((u) => u.azureactivedirectoryobjectid === DEMO_IDS.users.globalAdmin);
    expect(admin?.roles.length).toBe(1);
    const one = await t.admin("GET", `/dataverse/${env}/systemusers/${DEMO_IDS.users.globalAdmin}`);
    expect((one.json as { systemuserid: string }).systemuserid).toBe(admin?.systemuserid);
    expect((await t.admin("GET", `/dataverse/${DEMO_IDS.environments.noDataverse}/systemusers`)).status).toBe(404);
  });

  it("when the state is reset, then changes are undone and delta tokens issued before stop working", async () => {
    const first = (await (await t.call(`${t.sim.graphBaseUrl}/v1.0/users/delta?$deltatoken=latest`)).json()) as Record<string, string>;
    await t.admin("DELETE", `/users/${DEMO_IDS.users.member}`);
    expect((await t.admin("POST", "/reset")).status).toBe(200);
    expect((await graphUser(DEMO_IDS.users.member)).status).toBe(200);
    expect((await t.call(String(first["@odata.deltaLink"]))).status).toBe(410);
    const summary = (await t.admin("GET", "/summary")).json as { tenantId: string; users: number };
    expect(summary.tenantId).toBe(DEMO_TENANT_ID);
    expect(summary.users).toBeGreaterThanOrEqual(300);
  });
});
