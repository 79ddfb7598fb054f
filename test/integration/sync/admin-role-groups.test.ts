import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DEMO_DOMAIN, DEMO_IDS, DEMO_SKUS } from "../../../local/sim-cloud/demo-tenant.js";
import { DIRECTORY_ROLES, type DirectoryRole } from "../../../shared/auth/roles.js";
import { byObjectId, useSyncStack } from "./support.js";

/**
 * D2's exception for administrators when the role is assigned to a role-assignable group (Entra
 * ID P1): the role's members list the group, and its member users hold the role. Such a user needs
 * no license (administrative access mode); a Dynamics 365 administrator must still be a direct
 * member of the environment's security group (Sales in the demo tenant's Production environment).
 */
const P = DEMO_IDS.environments.production;

const stack = useSyncStack();

/** A new unlicensed user in the Sales group, holding `role` only through a new role-assignable group. */
async function adminThroughGroup(role: DirectoryRole): Promise<{ userId: string; groupId: string }> {
  const userId = randomUUID();
  const groupId = randomUUID();
  const name = `role.admin.${userId.slice(0, 8)}`;
  await stack.sim("/users", { body: { id: userId, userPrincipalName: `${name}@${DEMO_DOMAIN}`, displayName: name, usageLocation: "NL" } });
  await stack.sim(`/groups/${DEMO_IDS.groups.sales}/members`, { body: { add: [userId] } });
  await stack.sim("/groups", { body: { id: groupId, displayName: `${role} ${groupId.slice(0, 8)}`, isAssignableToRole: true, members: [userId] } });
  await stack.sim(`/roles/${DIRECTORY_ROLES[role]}/members`, { body: { add: [groupId] } });
  return { userId, groupId };
}

async function enable(environmentId: string) {
  const res = await stack.configure(environmentId, { syncEnabled: true, massDisableThresholdPercent: 50 });
  expect(res.status, await res.clone().text()).toBe(200);
}

describe("D2: administrators through a role-assignable group", () => {
  it("when an unlicensed member of the security group is Dynamics 365 Administrator through a role-assignable group, then the periodic sync adds them in administrative mode, and the group is no user", async () => {
    const { userId, groupId } = await adminThroughGroup("Dynamics 365 Administrator");
    await enable(P);

    const run = await stack.runNow(P);

    expect(run).toMatchObject({ state: "succeeded", counts: { failed: 0 } });
    const rows = byObjectId(await stack.rows(P));
    expect(rows.get(userId)).toMatchObject({ isdisabled: false, accessmode: 1 });
    expect(rows.has(groupId)).toBe(false);
    expect(run.failures.filter((f) => f.userId === groupId)).toEqual([]);
  });

  it("when an unlicensed member of the security group joins a role-assignable group holding Power Platform Administrator after a run, then the next (incremental) run adds them", async () => {
    const { userId, groupId } = await adminThroughGroup("Power Platform Administrator");
    await stack.sim(`/groups/${groupId}/members`, { body: { remove: [userId] } });
    await enable(P);
    await stack.runNow(P);
    expect(byObjectId(await stack.rows(P)).has(userId)).toBe(false);

    // Neither users/delta nor the security group's delta changes: only the role's (re-read) holders do.
    await stack.sim(`/groups/${groupId}/members`, { body: { add: [userId] } });
    const run = await stack.tickAndWait(P);

    expect(run).toMatchObject({ state: "succeeded", full: false, counts: { added: 1, failed: 0 } });
    expect(byObjectId(await stack.rows(P)).get(userId)).toMatchObject({ isdisabled: false, accessmode: 1 });
  });

  it("when an admin adds such a user on demand (D4), then the user is added, and diagnostics (D10) name the role", async () => {
    const { userId } = await adminThroughGroup("Dynamics 365 Administrator");

    const res = await stack.call(stack.env(P, "/users"), { method: "POST", token: stack.admin, body: JSON.stringify({ userId }) });

    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ userId, outcome: "added" });
    expect(byObjectId(await stack.rows(P)).get(userId)).toMatchObject({ isdisabled: false, accessmode: 1 });
    const diagnostics = await stack.call(stack.env(P, `/users/${userId}/diagnostics`), { token: stack.admin });
    const d = (await diagnostics.json()) as { rules: { id: string; passed: boolean; data: Record<string, unknown> }[] };
    expect(d.rules.find((r) => r.id === "D2.license")).toMatchObject({ passed: true, data: { adminRoles: ["Dynamics 365 Administrator"] } });
  });
});

describe("D2: an administrator the platform counts as licensed", () => {
  it("when a Power Platform Administrator whose only license grants no access (Office 365 E3) is added, then the record is administrative in the same run (addUser gave read-write)", async () => {
    const userId = randomUUID();
    const name = `pp.admin.${userId.slice(0, 8)}`;
    await stack.sim("/users", { body: { id: userId, userPrincipalName: `${name}@${DEMO_DOMAIN}`, displayName: name, usageLocation: "NL", licenses: [{ skuId: DEMO_SKUS.office365E3 }] } });
    await stack.sim(`/roles/${DIRECTORY_ROLES["Power Platform Administrator"]}/members`, { body: { add: [userId] } });
    await enable(P);

    const run = await stack.runNow(P);

    expect(run, run.error ?? "").toMatchObject({ state: "succeeded", counts: { failed: 0 } });
    expect(byObjectId(await stack.rows(P)).get(userId)).toMatchObject({ isdisabled: false, accessmode: 1 });
  });

  it("when such an administrator is added on demand, then the record is administrative at once", async () => {
    const userId = randomUUID();
    const name = `pp.admin.${userId.slice(0, 8)}`;
    await stack.sim("/users", { body: { id: userId, userPrincipalName: `${name}@${DEMO_DOMAIN}`, displayName: name, usageLocation: "NL", licenses: [{ skuId: DEMO_SKUS.office365E3 }] } });
    await stack.sim(`/roles/${DIRECTORY_ROLES["Power Platform Administrator"]}/members`, { body: { add: [userId] } });

    const res = await stack.call(stack.env(P, "/users"), { method: "POST", token: stack.admin, body: JSON.stringify({ userId }) });

    expect(res.status, await res.clone().text()).toBe(200);
    expect(byObjectId(await stack.rows(P)).get(userId)).toMatchObject({ isdisabled: false, accessmode: 1 });
  });
});
