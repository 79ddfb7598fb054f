import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEMO_APP, DEMO_DOMAIN, DEMO_IDS } from "../../../local/sim-cloud/demo-tenant.js";
import { DIRECTORY_ROLES } from "../../../shared/auth/roles.js";
import { BACKGROUND_BUDGET, createGraphClient } from "../../../shared/clients/graph.js";
import { readTenantFacts } from "../../../shared/sync/directory-reader.js";
import { startTestSim, type TestSim } from "./support.js";

/**
 * Directory roles assigned to role-assignable groups (Entra ID P1), as Graph shows them: the
 * role's members list the group (`#microsoft.graph.group`), not its members; the group's members
 * (with the `microsoft.graph.user` cast) are the users holding the role through it.
 */
const DYNAMICS = DIRECTORY_ROLES["Dynamics 365 Administrator"];
const GLOBAL = DIRECTORY_ROLES["Global Administrator"];

let t: TestSim;

beforeAll(async () => {
  t = await startTestSim({ rateLimits: false });
});
afterAll(async () => {
  await t?.sim.close();
});
beforeEach(async () => {
  expect((await t.admin("POST", "/reset")).status).toBe(200);
});

type Members = { value: { id: string; "@odata.type"?: string }[] };

async function get<T>(path: string): Promise<{ status: number; body: T }> {
  const res = await t.call(`${t.sim.graphBaseUrl}/v1.0${path}`);
  return { status: res.status, body: (await res.json()) as T };
}

async function newUser(): Promise<string> {
  const id = randomUUID();
  const created = await t.admin("POST", "/users", { id, userPrincipalName: `u.${id.slice(0, 8)}@${DEMO_DOMAIN}`, displayName: `User ${id.slice(0, 8)}` });
  expect(created.status).toBe(201);
  return id;
}

async function newGroup(members: string[], isAssignableToRole: boolean): Promise<string> {
  const id = randomUUID();
  const created = await t.admin("POST", "/groups", { id, displayName: `Group ${id.slice(0, 8)}`, members, isAssignableToRole });
  expect(created.status, JSON.stringify(created.json)).toBe(201);
  return id;
}

const graph = () => createGraphClient({ baseUrl: t.sim.graphBaseUrl, credential: t.credential, budget: BACKGROUND_BUDGET, background: true });

describe("the simulated Graph: roles held by role-assignable groups", () => {
  it("when a role is assigned to a role-assignable group, then the role's members list the group with its type, and the group's user cast lists only its users", async () => {
    const user = await newUser();
    const group = await newGroup([user, DEMO_APP.servicePrincipalId], true);
    expect((await t.admin("POST", `/roles/${DYNAMICS}/members`, { add: [group] })).status).toBe(200);

    const role = await get<Members>(`/directoryRoles(roleTemplateId='${DYNAMICS}')/members?$select=id`);
    expect(role.body.value).toContainEqual({ "@odata.type": "#microsoft.graph.group", id: group });
    expect(role.body.value.map((m) => m.id)).not.toContain(user);
    expect((await get<{ isAssignableToRole: boolean }>(`/groups/${group}?$select=id,isAssignableToRole`)).body.isAssignableToRole).toBe(true);
    expect((await get<Members>(`/groups/${group}/members?$select=id`)).body.value.map((m) => m.id)).toEqual([user, DEMO_APP.servicePrincipalId]);
    expect((await get<Members>(`/groups/${group}/members/microsoft.graph.user?$select=id`)).body.value.map((m) => m.id)).toEqual([user]);
  });

  it("when a user is in a role-assignable group holding a role, then transitiveMemberOf lists the role and memberOf does not", async () => {
    const user = await newUser();
    const group = await newGroup([user], true);
    await t.admin("POST", `/roles/${DYNAMICS}/members`, { add: [group] });

    const roles = async (list: string) => (await get<{ value: { roleTemplateId?: string }[] }>(`/users/${user}/${list}`)).body.value.flatMap((o) => o.roleTemplateId ?? []);
    expect(await roles("transitiveMemberOf")).toEqual([DYNAMICS]);
    expect(await roles("memberOf")).toEqual([]);
  });

  it("when a role is assigned to a group that is not role-assignable, or a group is added to a role-assignable one, then 400 (as Entra refuses both)", async () => {
    const plain = await newGroup([], false);
    expect((await t.admin("POST", `/roles/${DYNAMICS}/members`, { add: [plain] })).status).toBe(400);
    const assignable = await newGroup([], true);
    expect((await t.admin("PATCH", `/groups/${assignable}/members`, { add: [plain] })).status).toBe(400);
    expect((await get<Members>(`/directoryRoles(roleTemplateId='${DYNAMICS}')/members`)).body.value.map((m) => m.id)).not.toContain(plain);
  });
});

describe("readTenantFacts against the simulated Graph (D2's admins)", () => {
  it("when no role is held by a group, then the facts cost one Graph request (the $batch) and no group's members are read", async () => {
    t.sim.resetCounters();

    const facts = await readTenantFacts(graph(), [DEMO_IDS.groups.sales]);

    expect(facts.admins.dynamics).toEqual([DEMO_IDS.users.dynamicsAdmin]);
    const graphCounters = t.sim.counters().graph;
    expect(graphCounters.requests).toBe(1);
    expect(graphCounters.batchItemsByKind["groups.members"]).toBeUndefined();
  });

  it("when roles are held by a role-assignable group, then its member users are admins, and neither the group nor a service principal is", async () => {
    const [first, second] = [await newUser(), await newUser()];
    const group = await newGroup([first, second, DEMO_APP.servicePrincipalId], true);
    await t.admin("POST", `/roles/${DYNAMICS}/members`, { add: [group, DEMO_APP.servicePrincipalId] });
    await t.admin("POST", `/roles/${GLOBAL}/members`, { add: [group] });
    t.sim.resetCounters();

    const facts = await readTenantFacts(graph(), []);

    expect(facts.admins.dynamics).toEqual([DEMO_IDS.users.dynamicsAdmin, first, second].sort());
    expect(facts.admins.global).toEqual([DEMO_IDS.users.globalAdmin, first, second].sort());
    for (const ids of Object.values(facts.admins)) {
      expect(ids).not.toContain(group);
      expect(ids).not.toContain(DEMO_APP.servicePrincipalId);
    }
    // One more $batch, reading the group's members once although it holds two roles.
    const graphCounters = t.sim.counters().graph;
    expect(graphCounters.requests).toBe(2);
    expect(graphCounters.batchItemsByKind["groups.members"]).toBe(1);
  });
});
