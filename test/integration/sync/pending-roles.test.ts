import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DEMO_IDS, demoRoleId, demoUserId } from "../../../local/sim-cloud/demo-tenant.js";
import { newEnvelope } from "../../../shared/queue/envelope.js";
import { createQueueSender } from "../../../shared/queue/create-sender.js";
import { FIRST_ACCESS_KIND } from "../../../shared/sync/first-access.js";
import { byObjectId, eventually, useSyncStack } from "./support.js";

/**
 * D14: a default role that could not be given to a user this product added (Dataverse failing the
 * association) is owed: the environment's next run gives it, even without a directory change, and
 * so do a refresh (D9) and another on-demand add; diagnostics (D10) show it meanwhile.
 */
const E = DEMO_IDS.environments;
const u = demoUserId;

const stack = useSyncStack();

const post = (path: string, body?: unknown) => stack.call(path, { method: "POST", token: stack.admin, ...(body !== undefined && { body: JSON.stringify(body) }) });
/** The next `count` role associations inside a Dataverse $batch answer 500. */
const failAssociations = (count: number) =>
  stack.sim("/settings", {
    method: "PATCH",
    body: { faults: [{ services: ["dataverse"], inBatch: true, pathPattern: "/systemuserroles_association/\\$ref$", rate500: 1, count }] },
  });
const diagnostics = async (environmentId: string, userId: string) => {
  const res = await stack.call(stack.env(environmentId, `/users/${userId}/diagnostics`), { token: stack.admin });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as { verdict: { expected: string }; pendingRoles: { roleIds: string[]; lever: string } | null };
};

describe("D14 default roles that an add did not give", () => {
  it("when a run's role association fails, then the next run gives the role without any directory change", async () => {
    const salesPerson = demoRoleId(E.production, "Sales Person");
    expect((await stack.configure(E.production, { syncEnabled: true, massDisableThresholdPercent: 50, defaultSecurityRoleIds: [salesPerson] })).status).toBe(200);
    await failAssociations(1);

    const first = await stack.runNow(E.production);

    // The user added without its role counts as a failure of the run (D11), as its failures list says.
    expect(first, first.error ?? "").toMatchObject({ state: "succeeded", counts: { added: 7, failed: 1 } });
    expect(first.failures).toEqual([expect.objectContaining({ op: "assignRole", message: expect.stringContaining(salesPerson) as string })]);
    const owed = first.failures[0]?.userId ?? "";
    expect(byObjectId(await stack.rows(E.production)).get(owed)).toMatchObject({ isdisabled: false, roles: [] });
    expect(await diagnostics(E.production, owed)).toMatchObject({ verdict: { expected: "assignRoles" }, pendingRoles: { roleIds: [salesPerson] } });

    const second = await stack.tickAndWait(E.production);

    expect(second, second.error ?? "").toMatchObject({ state: "succeeded", full: false, counts: { added: 0, updated: 1, failed: 0 } });
    expect(byObjectId(await stack.rows(E.production)).get(owed)?.roles).toEqual([salesPerson]);
    expect(await diagnostics(E.production, owed)).toMatchObject({ verdict: { expected: "none" }, pendingRoles: null });
  });

  it("when an on-demand add's role association fails, then a refresh gives the role, and the answer says updated with no failure", async () => {
    const basicUser = demoRoleId(E.trial, "Basic User");
    expect((await stack.configure(E.trial, { defaultSecurityRoleIds: [basicUser] })).status).toBe(200);
    await failAssociations(1);
    const added = await post(stack.env(E.trial, "/users"), { userId: u(21) });
    expect(await added.json()).toMatchObject({ outcome: "added", roleFailures: [{ roleId: basicUser }] });
    expect(byObjectId(await stack.rows(E.trial)).get(u(21))?.roles).toEqual([]);
    expect((await diagnostics(E.trial, u(21))).pendingRoles).toMatchObject({ roleIds: [basicUser], lever: expect.stringContaining(`POST /api/tenants/${stack.tenantId}/environments/${E.trial}/users/${u(21)}/refresh`) as string });

    const refreshed = await post(stack.env(E.trial, `/users/${u(21)}/refresh`));

    expect(refreshed.status, await refreshed.clone().text()).toBe(200);
    // The role given is a change of the record: outcome updated (as README says), not "refreshed" only.
    expect(await refreshed.json()).toMatchObject({ outcome: "updated", roleFailures: [] });
    expect(byObjectId(await stack.rows(E.trial)).get(u(21))?.roles).toEqual([basicUser]);
    expect((await diagnostics(E.trial, u(21))).pendingRoles).toBeNull();
  });

  it("when an on-demand add's role association fails, then adding the user again gives the role (outcome updated)", async () => {
    const basicUser = demoRoleId(E.trial, "Basic User");
    expect((await stack.configure(E.trial, { defaultSecurityRoleIds: [basicUser] })).status).toBe(200);
    await failAssociations(1);
    expect(await (await post(stack.env(E.trial, "/users"), { userId: u(21) })).json()).toMatchObject({ roleFailures: [{ roleId: basicUser }] });

    const again = await post(stack.env(E.trial, "/users"), { userId: u(21) });

    expect(await again.json()).toMatchObject({ outcome: "updated", roleFailures: [] });
    expect(byObjectId(await stack.rows(E.trial)).get(u(21))?.roles).toEqual([basicUser]);
    // Nothing owed any more: a third add changes nothing.
    expect(await (await post(stack.env(E.trial, "/users"), { userId: u(21) })).json()).toMatchObject({ outcome: "unchanged" });
  });

  it("when an on-demand add's role association fails in an environment the sync runs in, then its next scheduled run gives the role", async () => {
    const basicUser = demoRoleId(E.trial, "Basic User");
    expect((await stack.configure(E.trial, { syncEnabled: true, defaultSecurityRoleIds: [basicUser] })).status).toBe(200);
    expect(await stack.runNow(E.trial)).toMatchObject({ state: "succeeded", counts: { added: 0 } });
    await failAssociations(1);
    expect(await (await post(stack.env(E.trial, "/users"), { userId: u(21) })).json()).toMatchObject({ outcome: "added", roleFailures: [{ roleId: basicUser }] });

    const run = await stack.tickAndWait(E.trial);

    expect(run, run.error ?? "").toMatchObject({ state: "succeeded", counts: { updated: 1, failed: 0 } });
    expect(byObjectId(await stack.rows(E.trial)).get(u(21))?.roles).toEqual([basicUser]);
  });

  it("when the role is no longer a default role of the environment, then it is not owed any more", async () => {
    const basicUser = demoRoleId(E.trial, "Basic User");
    expect((await stack.configure(E.trial, { defaultSecurityRoleIds: [basicUser] })).status).toBe(200);
    await failAssociations(1);
    expect(await (await post(stack.env(E.trial, "/users"), { userId: u(21) })).json()).toMatchObject({ roleFailures: [{ roleId: basicUser }] });
    expect((await stack.configure(E.trial, { defaultSecurityRoleIds: [] })).status).toBe(200);

    expect((await diagnostics(E.trial, u(21))).pendingRoles).toBeNull();
    expect(await (await post(stack.env(E.trial, "/users"), { userId: u(21) })).json()).toMatchObject({ outcome: "unchanged", roleFailures: [] });
    expect(byObjectId(await stack.rows(E.trial)).get(u(21))?.roles).toEqual([]);
  });

  it("when Dataverse refuses a default role (deleted since it was chosen), then the answer reports it, but it is not owed - asked again it would fail at every run", async () => {
    const basicUser = demoRoleId(E.trial, "Basic User");
    const deletedRole = randomUUID();
    expect((await stack.configure(E.trial, { defaultSecurityRoleIds: [basicUser] })).status).toBe(200);
    // As stored: a role deleted in Dataverse after it was chosen stays listed.
    const settings = stack.database.container("settings");
    const { resource } = await settings.item(`environment|${E.trial}`, stack.tenantId).read<Record<string, unknown>>();
    await settings.items.upsert({ ...resource, defaultSecurityRoleIds: [deletedRole, basicUser] });

    const added = await post(stack.env(E.trial, "/users"), { userId: u(21) });

    expect(await added.json()).toMatchObject({ outcome: "added", roleFailures: [{ roleId: deletedRole }] });
    expect((await diagnostics(E.trial, u(21))).pendingRoles).toBeNull();
  });

  it("when a first-access add's role association fails, then the role is owed, and the audit names first-access as the add does", async () => {
    const basicUser = demoRoleId(E.teams, "Basic User");
    expect((await stack.configure(E.teams, { syncEnabled: true, defaultSecurityRoleIds: [basicUser] })).status).toBe(200);
    await failAssociations(1);
    const events = createQueueSender({ transport: "storage-queue", queueName: "events", connection: { connectionString: stack.storageConnectionString } });
    await events.send(newEnvelope({ kind: FIRST_ACCESS_KIND, tenantId: stack.tenantId, body: { userId: u(33), environmentId: E.teams, occurredAt: new Date().toISOString() } }));

    await eventually(async () => byObjectId(await stack.rows(E.teams)).get(u(33)), "the first-access add");

    const record = await eventually(async () => {
      const res = await stack.call(`/api/tenants/${stack.tenantId}/audit?action=sync.user.assignRole&limit=200`, { token: stack.admin });
      return ((await res.json()) as { items: { actor: { type: string; id: string }; target?: { id: string } }[] }).items.find((r) => r.target?.id === u(33));
    }, "the role failure's audit record");
    expect(record.actor).toMatchObject({ type: "system", id: "first-access" });
    expect((await diagnostics(E.teams, u(33))).pendingRoles).toMatchObject({ roleIds: [basicUser] });
  });
});
