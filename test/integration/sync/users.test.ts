import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DEMO_IDS, demoRoleId, demoUserId } from "../../../local/sim-cloud/demo-tenant.js";
import { newEnvelope } from "../../../shared/queue/envelope.js";
import { createQueueSender } from "../../../shared/queue/create-sender.js";
import { FIRST_ACCESS_KIND } from "../../../shared/sync/first-access.js";
import { encodeCursor } from "../../../shared/http/conventions.js";
import { byObjectId, eventually, useSyncStack } from "./support.js";

/** Environment users by admins and by first access (D4, D7-D10). */
const E = DEMO_IDS.environments;
const u = demoUserId;

const stack = useSyncStack();

const post = (path: string, body?: unknown, token = stack.admin) =>
  stack.call(path, { method: "POST", token, ...(body !== undefined && { body: JSON.stringify(body) }) });
const patch = (path: string, body: unknown, token = stack.admin) => stack.call(path, { method: "PATCH", token, body: JSON.stringify(body) });

describe("D4 on-demand add", () => {
  it("when an admin adds an eligible user to a Trial environment, then the user is added (trial environments get users only this way)", async () => {
    const res = await post(stack.env(E.trial, "/users"), { userId: u(21) });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ userId: u(21), outcome: "added", systemUserId: expect.any(String) as string });
    expect(byObjectId(await stack.rows(E.trial)).get(u(21))?.isdisabled).toBe(false);
  });

  it("when an admin's add of one user is sent three times at once, then one add is made and reported, the others answer unchanged", async () => {
    const answers = await Promise.all(Array.from({ length: 3 }, () => post(stack.env(E.trial, "/users"), { userId: u(22) })));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    const outcomes = await Promise.all(answers.map(async (r) => ((await r.json()) as { outcome: string }).outcome));
    expect(outcomes.sort()).toEqual(["added", "unchanged", "unchanged"]);
    expect((await stack.rows(E.trial)).filter((r) => r.azureactivedirectoryobjectid === u(22))).toHaveLength(1);
  });

  it("when the user is not eligible, then 422 names each failed rule with its lever, and nothing is added", async () => {
    const res = await post(stack.env(E.production, "/users"), { userId: u(82) });
    expect(res.status).toBe(422);
    const problem = (await res.json()) as { type: string; failedRules: { id: string; lever: string | null }[] };
    expect(problem.type).toMatch(/user-not-eligible$/);
    expect(problem.failedRules).toEqual([expect.objectContaining({ id: "D2.securityGroup", lever: expect.stringContaining(DEMO_IDS.groups.sales) as string })]);
    expect(byObjectId(await stack.rows(E.production)).has(u(82))).toBe(false);
  });

  it("when the user's record is disabled, then an on-demand add re-enables it", async () => {
    const res = await post(stack.env(E.production, "/users"), { userId: u(54) });
    expect(await res.json()).toMatchObject({ outcome: "reEnabled" });
    expect(byObjectId(await stack.rows(E.production)).get(u(54))?.isdisabled).toBe(false);
  });

  it("when the group's owner is not a member, then an on-demand add still adds them", async () => {
    const res = await post(stack.env(E.production, "/users"), { userId: u(81) });
    expect(await res.json()).toMatchObject({ outcome: "added" });
  });

  it("when the environment has no Dataverse database, then 422", async () => {
    const res = await post(stack.env(E.noDataverse, "/users"), { userId: u(21) });
    expect(res.status).toBe(422);
  });

  it("when a user principal name is given instead of an object id, then 400", async () => {
    expect((await post(stack.env(E.trial, "/users"), { userId: "someone@contoso-sim.onmicrosoft.com" })).status).toBe(400);
  });

  it("when a first-access event arrives for a Teams environment, then its team member is added (Teams environments get users only this way)", async () => {
    expect((await stack.configure(E.teams, { syncEnabled: true })).status).toBe(200);
    const events = createQueueSender({ transport: "storage-queue", queueName: "events", connection: { connectionString: stack.storageConnectionString } });
    await events.send(newEnvelope({ kind: FIRST_ACCESS_KIND, tenantId: stack.tenantId, body: { userId: u(33), environmentId: E.teams, occurredAt: new Date().toISOString() } }));
    const row = await eventually(async () => byObjectId(await stack.rows(E.teams)).get(u(33)), "the first-access add");
    expect(row.isdisabled).toBe(false);
  });
});

describe("D14 default roles on an on-demand add", () => {
  /** D14's default roles of an environment, as stored: a role deleted in Dataverse after it was chosen stays listed. */
  async function storeDefaultRoles(environmentId: string, roleIds: string[]) {
    const settings = stack.database.container("settings");
    const { resource } = await settings.item(`environment|${environmentId}`, stack.tenantId).read<Record<string, unknown>>();
    expect(resource, "the environment's settings").toBeDefined();
    await settings.items.upsert({ ...resource, defaultSecurityRoleIds: roleIds });
  }

  it("when an admin adds a user to a Trial environment with default roles, then the user has them and the answer reports no failure", async () => {
    const basicUser = demoRoleId(E.trial, "Basic User");
    expect((await stack.configure(E.trial, { defaultSecurityRoleIds: [basicUser] })).status).toBe(200);
    const res = await post(stack.env(E.trial, "/users"), { userId: u(21) });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ outcome: "added", roleFailures: [] });
    expect(byObjectId(await stack.rows(E.trial)).get(u(21))?.roles).toEqual([basicUser]);
  });

  it("when a default role cannot be assigned, then the user is added, the answer names the role and why, and the audit trail records it", async () => {
    const basicUser = demoRoleId(E.trial, "Basic User");
    const deletedRole = randomUUID();
    expect((await stack.configure(E.trial, { defaultSecurityRoleIds: [basicUser] })).status).toBe(200);
    await storeDefaultRoles(E.trial, [deletedRole, basicUser]);

    const res = await post(stack.env(E.trial, "/users"), { userId: u(21) });
    expect(res.status, await res.clone().text()).toBe(200);
    const body = (await res.json()) as { outcome: string; roleFailures: { roleId: string; code: string; message: string }[] };
    expect(body.outcome).toBe("added");
    expect(body.roleFailures).toEqual([{ roleId: deletedRole, code: expect.any(String) as string, message: expect.stringContaining(deletedRole) as string }]);
    // The other role is still given.
    expect(byObjectId(await stack.rows(E.trial)).get(u(21))).toMatchObject({ isdisabled: false, roles: [basicUser] });

    const audit = await stack.call(`/api/tenants/${stack.tenantId}/audit?action=sync.user.assignRole&limit=200`, { token: stack.admin });
    const records = ((await audit.json()) as { items: { outcome?: string; target?: { id: string }; context?: { roleIds?: string[]; failures?: { op: string }[] } }[] }).items;
    expect(records.find((r) => r.context?.roleIds?.includes(deletedRole))).toMatchObject({
      // The admin who added the user, not the sync.
      actor: { type: "user" },
      outcome: "failed", target: { id: u(21) }, context: { environmentId: E.trial, failures: [expect.objectContaining({ userId: u(21), op: "assignRole" })] },
    });
  });
});

describe("D9 refresh and D10 diagnostics", () => {
  it("when an admin refreshes a user whose profile changed, then the record is brought in line now", async () => {
    await stack.sim(`/users/${u(21)}`, { method: "PATCH", body: { jobTitle: "Refreshed title" } });
    const res = await post(stack.env(E.production, `/users/${u(21)}/refresh`));
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ outcome: expect.stringMatching(/refreshed|updated/) as string });
    expect(byObjectId(await stack.rows(E.production)).get(u(21))?.title).toBe("Refreshed title");
  });

  it("when an admin refreshes a user whose account is disabled and the platform refuses the disable (it manages the record), then the refresh has the platform synchronise the user (addUser), which disables it - as the drift's lever says", async () => {
    expect(byObjectId(await stack.rows(E.production)).get(u(60))?.isdisabled).toBe(false);
    const res = await post(stack.env(E.production, `/users/${u(60)}/refresh`));
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ outcome: "disabled", drift: null, failedRules: [expect.objectContaining({ id: "D2.accountEnabled" })] });
    expect(byObjectId(await stack.rows(E.production)).get(u(60))?.isdisabled).toBe(true);
  });

  it("when the platform refuses the disable and synchronising the user does not disable it either, then the answer carries the drift, with a lever that does not send the admin back to refresh", async () => {
    await stack.sim(`/users/${u(47)}`, { method: "PATCH", body: { accountEnabled: false } });
    await stack.sim("/settings", { method: "PATCH", body: { faults: [{ services: ["bap"], pathPattern: "addUser", rate500: 1 }] } });
    const res = await post(stack.env(E.production, `/users/${u(47)}/refresh`));
    await stack.sim("/settings", { method: "PATCH", body: { faults: [] } });

    const body = (await res.json()) as { outcome: string; drift: { kind: string; lever: string; platform: { status: number } } | null };
    expect(body).toMatchObject({ outcome: "unchanged", drift: { kind: "enabledButIneligible", platform: { status: 400 } } });
    expect(body.drift?.lever).toMatch(/next directory sync/);
    expect(body.drift?.lever).not.toMatch(/Refresh the user/);
    expect(byObjectId(await stack.rows(E.production)).get(u(47))?.isdisabled).toBe(false);
  });

  it("when the environment's sync is off, then diagnostics say so, and that nothing happens until it is on; once on, they say what the periodic sync does", async () => {
    const diagnose = async () => {
      const res = await stack.call(stack.env(E.production, `/users/${u(21)}/diagnostics`), { token: stack.admin });
      expect(res.status).toBe(200);
      return (await res.json()) as { environment: { syncEnabled: boolean }; verdict: { explanation: string } };
    };
    const off = await diagnose();
    expect(off.environment.syncEnabled).toBe(false);
    expect(off.verdict.explanation).toMatch(/^The sync is off for this environment: neither the periodic sync nor a first access adds or changes anyone here/);
    expect(off.verdict.explanation).toContain(`PATCH /api/tenants/${stack.tenantId}/environments/${E.production} with {"syncEnabled": true}`);

    expect((await stack.configure(E.production, { syncEnabled: true })).status).toBe(200);
    const on = await diagnose();
    expect(on.environment.syncEnabled).toBe(true);
    expect(on.verdict.explanation).not.toMatch(/sync is off/);
    expect(off.verdict.explanation.endsWith(`Once on: ${on.verdict.explanation.charAt(0).toLowerCase()}${on.verdict.explanation.slice(1)}`)).toBe(true);
  });

  it("when diagnostics are asked for a user in a nested group only, then every rule shows with its data, and the failed one with its lever", async () => {
    const res = await stack.call(stack.env(E.production, `/users/${u(82)}/diagnostics`), { token: await stack.token({ tenantId: stack.tenantId, roles: ["Global Reader"] }) });
    expect(res.status).toBe(200);
    const d = (await res.json()) as { rules: { id: string; passed: boolean; data: Record<string, unknown>; lever: string | null }[]; verdict: { expected: string; addOnDemand: boolean }; record: unknown };
    expect(d.rules.map((r) => r.id)).toEqual(["D2.notDeleted", "D2.accountEnabled", "D2.license", "D2.securityGroup", "D5.environment", "D5.addPath"]);
    const group = d.rules.find((r) => r.id === "D2.securityGroup");
    // Not a direct member, but in the group through Sales EMEA: the data and the lever say so ("but they are in the group").
    expect(group).toMatchObject({ passed: false, data: { directMember: false, memberThroughNestedGroup: true, securityGroupId: DEMO_IDS.groups.sales } });
    expect(group?.lever).toMatch(/only through a nested group, which does not count/);
    expect(group?.lever).toMatch(/nested groups do not count/);
    // User 82 holds Office 365 E3 only: its free Dataverse plans count for on-demand adds, not for the periodic sync (D2).
    expect(d.rules.find((r) => r.id === "D2.license")).toMatchObject({
      passed: false, passedOnDemand: true, data: { grantingLicenses: [], freeDataversePlanLicenses: ["ENTERPRISEPACK"] },
    });
    expect(d).toMatchObject({ verdict: { expected: "none", addOnDemand: false }, record: null });

    // User 110 is in neither group: nothing nested to tell.
    const outside = (await (await stack.call(stack.env(E.production, `/users/${u(110)}/diagnostics`), { token: stack.admin })).json()) as typeof d;
    const outsideGroup = outside.rules.find((r) => r.id === "D2.securityGroup");
    expect(outsideGroup).toMatchObject({ passed: false, data: { directMember: false, memberThroughNestedGroup: false } });
    expect(outsideGroup?.lever).not.toMatch(/only through a nested group/);
  });
});

describe("D8 access modes and D7 user types", () => {
  it("when the body has no accessMode or an unknown one, then 400 naming body.accessMode with the modes it takes", async () => {
    for (const [body, said] of [[{}, /is required: one of readWrite, administrative, read, nonInteractive/], [{ accessMode: "admin" }, /must be one of readWrite/]] as const) {
      const res = await patch(stack.env(E.production, `/users/${u(21)}`), body);
      expect(res.status).toBe(400);
      const { errors } = (await res.json()) as { errors: { path: string; message: string }[] };
      expect(errors).toEqual([{ path: "body.accessMode", message: expect.stringMatching(said) }]);
    }
  });

  it("when an admin sets a user's access mode, then Dataverse holds it; the 8th non-interactive user is a 409", async () => {
    const set = (n: number, accessMode: string) => patch(stack.env(E.production, `/users/${u(n)}`), { accessMode });
    const admin = await set(21, "administrative");
    expect(admin.status, await admin.clone().text()).toBe(200);
    expect(await admin.json()).toMatchObject({ accessMode: "administrative", type: "regular" });
    // User 55 is non-interactive already; application users do not count.
    for (const n of [20, 22, 23, 24, 26, 27]) expect((await set(n, "nonInteractive")).status, `user ${n}`).toBe(200);
    await stack.sim("/counters/reset", { body: {} });
    const eighth = await set(28, "nonInteractive");
    expect(eighth.status).toBe(409);
    // Refused by the rule here, before anything is sent to Dataverse.
    const counters = await stack.sim<{ dataverse: { byKind: Record<string, number> } }>("/counters");
    expect(counters.dataverse.byKind["systemusers.update"] ?? 0).toBe(0);
    expect(((await eighth.json()) as { type: string }).type).toMatch(/non-interactive-limit$/);
    expect(byObjectId(await stack.rows(E.production)).get(u(28))?.accessmode).toBe(0);
  });

  it("when an admin sets administrative on a licensed user, then a full reconcile leaves it; unpinning sets read-write again at once", async () => {
    expect((await stack.configure(E.production, { syncEnabled: true, massDisableThresholdPercent: 100 })).status).toBe(200);
    const user = stack.env(E.production, `/users/${u(21)}`);
    const diagnostics = async () => (await stack.call(`${user}/diagnostics`, { token: stack.admin })).json() as Promise<{ verdict: { accessMode: string; expected: string }; accessModePin: unknown }>;

    const pinned = await patch(user, { accessMode: "administrative" });
    expect(pinned.status, await pinned.clone().text()).toBe(200);
    expect(await pinned.json()).toMatchObject({ accessMode: "administrative", accessModePin: { accessMode: "administrative", pinnedBy: expect.any(String) as string } });
    // The license alone would give read-write; the diagnostics say an admin's choice stands, and how to undo it.
    expect(await diagnostics()).toMatchObject({
      verdict: { accessMode: "readWrite" },
      accessModePin: { accessMode: "administrative", lever: expect.stringContaining('{"accessMode": null}') as string },
    });
    expect((await stack.runNow(E.production)).state).toBe("succeeded");
    expect(byObjectId(await stack.rows(E.production)).get(u(21))?.accessmode).toBe(1);
    // A refresh (D9) brings the record in line with the rules, the admin's choice included.
    expect((await post(`${user}/refresh`)).status).toBe(200);
    expect(byObjectId(await stack.rows(E.production)).get(u(21))?.accessmode).toBe(1);

    const unpinned = await patch(user, { accessMode: null });
    expect(unpinned.status, await unpinned.clone().text()).toBe(200);
    expect(await unpinned.json()).toMatchObject({ accessMode: "readWrite", accessModePin: null });
    expect(byObjectId(await stack.rows(E.production)).get(u(21))?.accessmode).toBe(0);
    expect(await diagnostics()).toMatchObject({ verdict: { accessMode: "readWrite", expected: "none" }, accessModePin: null });
  });

  it("when a user whose administrative mode is pinned is disabled and later re-enabled by the periodic sync, then the pinned mode is set again (addUser gives read-write)", async () => {
    await stack.sim("/settings", { method: "PATCH", body: { dataverse: { refuseSyncedUserDisable: false } } });
    expect((await stack.configure(E.production, { syncEnabled: true, massDisableThresholdPercent: 100 })).status).toBe(200);
    expect((await stack.runNow(E.production)).counts.added).toBeGreaterThan(0);
    const licensedMember = u(57);
    const pinned = await patch(stack.env(E.production, `/users/${licensedMember}`), { accessMode: "administrative" });
    expect(pinned.status, await pinned.clone().text()).toBe(200);
    const membership = (change: "add" | "remove") => stack.sim(`/groups/${DEMO_IDS.groups.sales}/members`, { body: { [change]: [licensedMember] } });

    await membership("remove");
    expect((await stack.runNow(E.production)).counts.disabled).toBe(1);
    expect(byObjectId(await stack.rows(E.production)).get(licensedMember)).toMatchObject({ isdisabled: true, accessmode: 1 });
    await membership("add");
    const reEnabling = await stack.runNow(E.production);

    expect(reEnabling, reEnabling.error ?? "").toMatchObject({ state: "succeeded", counts: { reEnabled: 1, failed: 0 } });
    expect(byObjectId(await stack.rows(E.production)).get(licensedMember)).toMatchObject({ isdisabled: false, accessmode: 1 });
  });

  it("when the user is soft-deleted in Entra, then diagnostics say so with the restore lever; once purged, that it is deleted for good", async () => {
    const rulesOf = async () => {
      const res = await stack.call(stack.env(E.production, `/users/${u(21)}/diagnostics`), { token: stack.admin });
      expect(res.status, await res.clone().text()).toBe(200);
      return ((await res.json()) as { rules: { id: string; passed: boolean; data: { removed?: string }; lever: string | null }[] }).rules;
    };
    const diagnostics = async () => (await rulesOf()).find((r) => r.id === "D2.notDeleted");
    await stack.sim(`/users/${u(21)}/soft-delete`, { body: {} });

    expect(await diagnostics()).toMatchObject({ passed: false, data: { removed: "soft" }, lever: expect.stringMatching(/restore/i) as string });
    // Its licenses and groups cannot be changed while it is deleted: the only lever is the restore.
    const userRules = (await rulesOf()).filter((r) => !r.passed && ["D2.license", "D2.securityGroup", "D2.accountEnabled"].includes(r.id));
    expect(userRules.length).toBeGreaterThan(0);
    for (const r of userRules) expect(r.lever, r.id).toMatch(/^Restore the user in Entra ID first/);
    // An on-demand add is refused by the same rule.
    const add = await post(stack.env(E.production, "/users"), { userId: u(21) });
    expect(add.status, await add.clone().text()).toBe(422);

    await stack.sim(`/users/${u(21)}`, { method: "DELETE" });
    expect(await diagnostics()).toMatchObject({ passed: false, data: { removed: "hard" } });
  });

  it("when a non-interactive mode an admin pinned is unpinned, then the license's mode is set at once (the sync itself never leaves non-interactive)", async () => {
    expect((await stack.configure(E.production, { syncEnabled: true, massDisableThresholdPercent: 100 })).status).toBe(200);
    const user = stack.env(E.production, `/users/${u(22)}`);
    expect((await patch(user, { accessMode: "nonInteractive" })).status).toBe(200);
    expect(byObjectId(await stack.rows(E.production)).get(u(22))?.accessmode).toBe(4);

    const unpinned = await patch(user, { accessMode: null });

    expect(unpinned.status, await unpinned.clone().text()).toBe(200);
    expect(await unpinned.json()).toMatchObject({ accessMode: "readWrite", accessModePin: null });
    expect(byObjectId(await stack.rows(E.production)).get(u(22))?.accessmode).toBe(0);
  });

  it("when an add or a refresh names an id Entra does not know and the environment has no record of, then 404 user-not-found (not a 422 with levers for a user who does not exist)", async () => {
    const nobody = randomUUID();
    for (const res of [await post(stack.env(E.production, "/users"), { userId: nobody }), await post(stack.env(E.production, `/users/${nobody}/refresh`))]) {
      expect(res.status, await res.clone().text()).toBe(404);
      expect(await res.json()).toMatchObject({ type: expect.stringMatching(/user-not-found$/) as string, userId: nobody });
    }
  });

  it("when a run is started on an environment whose sync is off, then 422 sync-disabled and nothing is queued", async () => {
    const res = await post(stack.env(E.production, "/sync-runs"));
    expect(res.status, await res.clone().text()).toBe(422);
    expect(await res.json()).toMatchObject({ type: expect.stringMatching(/sync-disabled$/) as string });
  });

  it("when a user whose administrative mode is pinned is re-enabled on demand, then the pinned mode is set again at once", async () => {
    await stack.sim("/settings", { method: "PATCH", body: { dataverse: { refuseSyncedUserDisable: false } } });
    expect((await stack.configure(E.production, { syncEnabled: true, massDisableThresholdPercent: 100 })).status).toBe(200);
    expect((await stack.runNow(E.production)).counts.added).toBeGreaterThan(0);
    const member = u(58);
    expect((await patch(stack.env(E.production, `/users/${member}`), { accessMode: "administrative" })).status).toBe(200);
    const membership = (change: "add" | "remove") => stack.sim(`/groups/${DEMO_IDS.groups.sales}/members`, { body: { [change]: [member] } });
    await membership("remove");
    expect((await stack.runNow(E.production)).counts.disabled).toBe(1);
    await membership("add");

    const res = await post(stack.env(E.production, "/users"), { userId: member });

    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ outcome: "reEnabled" });
    expect(byObjectId(await stack.rows(E.production)).get(member)).toMatchObject({ isdisabled: false, accessmode: 1 });
  });

  it("when the access mode body is not a mode or null, then 400 problem+json naming the field, and nothing changes", async () => {
    for (const body of [{ accessMode: "owner" }, {}, { accessMode: "administrative", pinned: true }]) {
      const res = await patch(stack.env(E.production, `/users/${u(21)}`), body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get("content-type")).toMatch(/application\/problem\+json/);
      const problem = (await res.json()) as { errors?: { path: string }[] };
      expect(problem.errors?.length, JSON.stringify(body)).toBeGreaterThan(0);
    }
    expect((await stack.call(stack.env(E.production, `/users/${u(21)}/diagnostics`), { token: stack.admin }).then((r) => r.json())) as { accessModePin: unknown }).toMatchObject({ accessModePin: null });
  });

  /** An application registered in the tenant's Entra ID (an enterprise application): what an application user is made from. */
  async function registeredApplication(displayName = "Payroll Connector"): Promise<string> {
    const applicationId = randomUUID();
    await stack.sim("/servicePrincipals", { method: "POST", body: { id: randomUUID(), appId: applicationId, displayName } });
    return applicationId;
  }

  it("when an admin creates an application user and disables it, then it exists, and the answer warns that its integrations break", async () => {
    const applicationId = await registeredApplication();
    const created = await post(stack.env(E.sandbox, "/application-users"), { applicationId });
    expect(created.status, await created.clone().text()).toBe(201);
    const body = await created.json();
    expect(body).toMatchObject({ applicationId, status: "enabled", warning: null });
    // 201 says where to read it; reading it there gives the same application user.
    const location = created.headers.get("location");
    expect(location).toBe(`/api/tenants/${stack.tenantId}/environments/${E.sandbox}/application-users/${applicationId}`);
    const read = await stack.call(location!, { token: stack.admin });
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual(body);
    expect((await post(stack.env(E.sandbox, "/application-users"), { applicationId })).status).toBe(409);

    const disabled = await patch(stack.env(E.sandbox, `/application-users/${applicationId}`), { enabled: false });
    expect(await disabled.json()).toMatchObject({ status: "disabled", warning: expect.stringMatching(/breaks every integration/) as string });
    const row = (await stack.rows(E.sandbox)).find((r) => r.applicationid === applicationId);
    expect(row?.isdisabled).toBe(true);
    // Read while disabled, it still says what that breaks; an application with no user here is a 404.
    expect(await (await stack.call(location!, { token: stack.admin })).json()).toMatchObject({ status: "disabled", warning: expect.stringMatching(/breaks every integration/) as string });
    expect((await stack.call(stack.env(E.sandbox, `/application-users/${randomUUID()}`), { token: stack.admin })).status).toBe(404);
  });

  it("when the application user is created, then the platform makes it from the app's service principal: listed as an application user, non-interactive", async () => {
    const applicationId = await registeredApplication("Payroll Connector");
    expect((await post(stack.env(E.sandbox, "/application-users"), { applicationId })).status).toBe(201);
    const res = await stack.call(stack.env(E.sandbox, "/users?limit=200"), { token: stack.admin });
    const { items } = (await res.json()) as { items: { type: string; accessMode: string; applicationId: string | null; fullName: string | null; userId: string | null }[] };
    expect(items.find((i) => i.applicationId === applicationId)).toMatchObject({ type: "application", accessMode: "nonInteractive", fullName: "# Payroll Connector", userId: expect.any(String) as string });
  });

  it("when the tenant has no such application in Entra ID, then 422 platform-refused with the lever, and no record is made", async () => {
    const applicationId = randomUUID();
    const res = await post(stack.env(E.sandbox, "/application-users"), { applicationId });
    expect(res.status, await res.clone().text()).toBe(422);
    expect(await res.json()).toMatchObject({ type: expect.stringMatching(/platform-refused$/) as string, applicationId, lever: expect.stringContaining("Register the application") as string });
    expect((await stack.rows(E.sandbox)).some((r) => r.applicationid === applicationId)).toBe(false);
  });

  it("when five requests create the same application user at once, then one record is created and the others are 409", async () => {
    const applicationId = await registeredApplication();
    const answers = await Promise.all(Array.from({ length: 5 }, () => post(stack.env(E.sandbox, "/application-users"), { applicationId })));
    expect(answers.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
    expect((await stack.rows(E.sandbox)).filter((r) => r.applicationid === applicationId)).toHaveLength(1);
    expect((await post(stack.env(E.sandbox, "/application-users"), { applicationId })).status).toBe(409); // the guard was given back; the record answers
  });

  it("when the user list is read, then each record shows its type, status and access mode", async () => {
    const res = await stack.call(stack.env(E.production, "/users?limit=200"), { token: stack.admin });
    const { items } = (await res.json()) as { items: { userId: string | null; type: string; status: string; accessMode: string; applicationId: string | null }[] };
    const types = new Set(items.map((i) => i.type));
    expect(types).toEqual(new Set(["system", "regular", "nonInteractive", "application", "supportUser", "delegatedAdmin", "stub"]));
    expect(items.find((i) => i.applicationId === DEMO_IDS.integrationAppId)).toMatchObject({ type: "application", userId: DEMO_IDS.servicePrincipals.integration });
    expect(items.find((i) => i.userId === u(54))).toMatchObject({ status: "disabled", accessMode: "readWrite" });

    // D7: Microsoft's records are named in words an admin reads, not by the API's type names.
    const support = items.find((i) => i.type === "supportUser" && i.userId);
    expect(support).toBeDefined();
    const refused = await patch(stack.env(E.production, `/users/${support!.userId}`), { accessMode: "readWrite" });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { detail: string }).detail).toBe("The record is a support user record (access mode 3); its access mode is not changed here (D7).");
  });

  it("when the list is paged, then the cursor continues where the page ended and ends with null", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: Response = await stack.call(stack.env(E.production, `/users?limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`), { token: stack.admin });
      const page = (await res.json()) as { items: { systemUserId: string }[]; nextCursor: string | null };
      seen.push(...page.items.map((i) => i.systemUserId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toHaveLength((await stack.rows(E.production)).length);
  });

  it("when a cursor carries a paging cookie Dataverse refuses, then 400 naming the cursor (not a 502)", async () => {
    const forged = encodeCursor(stack.tenantId, { environmentId: E.production, status: "all" }, "garbage");
    const res = await stack.call(stack.env(E.production, `/users?cursor=${forged}`), { token: stack.admin });
    expect(res.status, await res.clone().text()).toBe(400);
    expect(JSON.stringify(await res.json())).toContain('"path":"cursor"');
  });

  it("when the list is filtered by status, then every page holds only that status, together all of them, and the cursor is bound to the filter", async () => {
    const page = async (query: string) => {
      const res = await stack.call(stack.env(E.production, `/users?${query}`), { token: stack.admin });
      expect(res.status, await res.clone().text()).toBe(200);
      return (await res.json()) as { items: { systemUserId: string; status: string }[]; nextCursor: string | null };
    };
    const disabled: string[] = [];
    let cursor: string | null = null;
    let first: string | null = null;
    do {
      const p = await page(`status=disabled&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(p.items.every((i) => i.status === "disabled"), JSON.stringify(p.items)).toBe(true);
      disabled.push(...p.items.map((i) => i.systemUserId));
      first ??= p.nextCursor;
      cursor = p.nextCursor;
    } while (cursor);
    const expected = (await stack.rows(E.production)).filter((r) => r.isdisabled).map((r) => r.systemuserid);
    expect(disabled.sort()).toEqual(expected.sort());
    expect(first).not.toBeNull();

    const enabled = await page("status=enabled&limit=200");
    expect(enabled.items.length).toBeGreaterThan(0);
    expect(enabled.items.every((i) => i.status === "enabled")).toBe(true);
    expect((await stack.call(stack.env(E.production, `/users?status=enabled&cursor=${encodeURIComponent(first ?? "")}`), { token: stack.admin })).status).toBe(400);
    expect((await stack.call(stack.env(E.production, "/users?status=gone"), { token: stack.admin })).status).toBe(400);
  });
});

describe("access (P4)", () => {
  it("when a Global Reader or a License Administrator changes environment users, then 403; Power Platform and Dynamics 365 admins may", async () => {
    const reader = await stack.token({ tenantId: stack.tenantId, roles: ["Global Reader"] });
    const licenseAdmin = await stack.token({ tenantId: stack.tenantId, roles: ["License Administrator"] });
    const ppAdmin = await stack.token({ tenantId: stack.tenantId, roles: ["Power Platform Administrator"] });
    expect((await post(stack.env(E.trial, "/users"), { userId: u(21) }, reader)).status).toBe(403);
    expect((await post(stack.env(E.trial, "/users"), { userId: u(21) }, licenseAdmin)).status).toBe(403);
    expect((await post(stack.env(E.trial, "/users"), { userId: u(21) }, ppAdmin)).status).toBe(200);
    expect((await stack.call(stack.env(E.trial, "/users"), { token: reader })).status).toBe(200);
  });
});
