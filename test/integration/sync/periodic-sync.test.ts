import { describe, expect, it } from "vitest";
import { DEMO_IDS, DEMO_SKUS, demoRoleId, demoUserId } from "../../../local/sim-cloud/demo-tenant.js";
import { byObjectId, useSyncStack, type RunView, type SimRow } from "./support.js";

/**
 * The periodic sync against the simulated cloud's demo tenant (Production environment "Contoso
 * Sales": security group Sales = users 1-7 and 20-80 directly, nested group Sales EMEA 81-100,
 * owner user 81). Most demo users hold Office 365 E3 only, whose Power Apps and Dataverse plans
 * count for on-demand adds only (D2): the periodic sync adds and re-enables holders of a Power
 * Platform license (see m365-plans.test.ts for the E3-only users).
 */
const P = DEMO_IDS.environments.production;
const u = demoUserId;

const stack = useSyncStack();

/** Assigns user n Power Apps per user (a license that gives Dataverse access) in the simulated Entra ID. */
async function licensePowerApps(n: number) {
  await stack.sim(`/users/${u(n)}/assign-license`, { body: { addLicenses: [{ skuId: DEMO_SKUS.powerAppsPerUser }] } });
}

async function enable(environmentId: string, patch: Record<string, unknown> = {}) {
  const res = await stack.configure(environmentId, { syncEnabled: true, massDisableThresholdPercent: 50, ...patch });
  expect(res.status, await res.clone().text()).toBe(200);
}

describe("the periodic sync of a Production environment (D1, D2, D3, D7, D11, D14)", () => {
  it("when it runs the first time, then eligible direct members are added with the default roles, and nothing else changes", async () => {
    const salesPerson = demoRoleId(P, "Sales Person");
    await enable(P, { defaultSecurityRoleIds: [salesPerson] });
    // User 54 (disabled here) holds Office 365 E3 only; with Power Apps per user the periodic sync may re-enable it.
    await licensePowerApps(54);
    const before = await stack.rows(P);
    const run = await stack.runNow(P);

    expect(run).toMatchObject({ state: "succeeded", full: true, checkpoint: { phase: "done" } });
    const after = byObjectId(await stack.rows(P));
    // Direct members with a license that gives Dataverse access: added, with the environment's default role (D14).
    // Power Apps per user (65, 78), Power Automate per user (58), the Power Apps trial (68), Power Automate Free (57, 76).
    for (const n of [57, 58, 65, 68, 76, 78]) {
      expect(after.get(u(n)), `user ${n}`).toMatchObject({ isdisabled: false, roles: [salesPerson] });
    }
    // The Dynamics 365 administrator needs no license but must be (and is) in the group: administrative mode.
    expect(after.get(u(6))).toMatchObject({ isdisabled: false, accessmode: 1, roles: [salesPerson] });
    // Office 365 E3 only (2, 3, 4, 7, 56, 62, 80): its Power Apps and Dataverse plans are Microsoft 365 use
    // rights, honoured for on-demand adds only (D2) - the periodic sync does not add them.
    for (const n of [2, 3, 4, 7, 56, 62, 80]) expect(after.has(u(n)), `user ${n}`).toBe(false);
    // Not eligible: no license (25, 50, 75), disabled account (30), only in the nested group (82), only the group's owner (81).
    for (const n of [25, 30, 50, 75, 81, 82]) expect(after.has(u(n)), `user ${n}`).toBe(false);
    // Disabled here but eligible: re-enabled (through addUser), without default roles (not added by this product).
    expect(after.get(u(54))).toMatchObject({ isdisabled: false, roles: [demoRoleId(P, "Basic User")] });
    // 6, 57, 58, 65, 68, 76 and 78: the only direct members without a record whom the periodic sync may add.
    expect(run.counts).toMatchObject({ added: 7, reEnabled: 1, failed: 0 });
    expect(run.counts.read).toBeGreaterThan(run.counts.added);

    // D3: nothing is deleted; D7: application, support, delegated-admin and stub records are untouched.
    const untouched = (r: SimRow) => r.applicationid !== null || r.accessmode === 3 || r.accessmode === 5 || r.azureactivedirectoryobjectid === null;
    const afterById = new Map((await stack.rows(P)).map((r) => [r.systemuserid, r]));
    for (const row of before) {
      expect(afterById.has(row.systemuserid), `record ${row.systemuserid} still exists`).toBe(true);
      if (untouched(row)) expect(afterById.get(row.systemuserid)).toEqual(row);
    }
  });

  it("when Dataverse refuses to disable users the rules no longer allow, then they are recorded as drift with the lever that fixes it", async () => {
    await enable(P);
    const run = await stack.runNow(P);
    // User 60's account is disabled in Entra, 296 is soft-deleted, 49 has no license: the platform manages their status.
    expect(run.counts.drift).toBe(3);
    expect(run.counts.disabled).toBe(0);
    const rows = byObjectId(await stack.rows(P));
    for (const n of [49, 60, 296]) expect(rows.get(u(n))?.isdisabled, `user ${n}`).toBe(false);

    const list = await stack.call(stack.env(P, "/users?limit=200"), { token: stack.admin });
    const users = (await list.json()) as { items: { userId: string | null; drift: { kind: string; lever: string; failedRules: string[] } | null }[] };
    const drift = new Map(users.items.filter((i) => i.drift).map((i) => [i.userId, i.drift]));
    expect([...drift.keys()].sort()).toEqual([u(49), u(60), u(296)].sort());
    expect(drift.get(u(60))).toMatchObject({ kind: "enabledButIneligible", failedRules: ["D2.accountEnabled"], lever: expect.stringMatching(/refresh/i) as string });
    // Its license is already gone in Entra: the lever says the platform disables the record, not to remove what is gone.
    expect(drift.get(u(49))?.lever).toMatch(/already shows that the user holds no license.*platform disables the record at its next directory sync/);
  });

  it("when the platform then disables a drifting user itself, then the user list and diagnostics stop showing the drift at once, and the next run removes it", async () => {
    await enable(P);
    await stack.runNow(P);
    // The platform's own directory sync disables the record the sync could not (user 49: no license).
    await stack.sim(`/dataverse/${P}/systemusers/${u(49)}`, { method: "PATCH", body: { isdisabled: true } });
    const list = (await (await stack.call(stack.env(P, "/users?limit=200"), { token: stack.admin })).json()) as { items: { userId: string | null; status: string; drift: unknown }[] };
    expect(list.items.find((i) => i.userId === u(49))).toMatchObject({ status: "disabled", drift: null });
    const diagnostics = (await (await stack.call(stack.env(P, `/users/${u(49)}/diagnostics`), { token: stack.admin })).json()) as { verdict: { expected: string }; drift: unknown };
    expect(diagnostics).toMatchObject({ verdict: { expected: "none" }, drift: null });

    // An incremental run (another user changed) looks at the drifting users again: 49's drift goes, 60's (still enabled) stays.
    const driftDoc = (n: number) => stack.database.container("sync").item(`drift|${u(n)}`, `${stack.tenantId}|env|${P}`).read().then((r) => r.resource as unknown);
    expect(await driftDoc(49)).toBeDefined();
    await stack.sim(`/users/${u(21)}`, { method: "PATCH", body: { jobTitle: "Drift check" } });
    const run = await stack.tickAndWait(P);
    expect(run).toMatchObject({ state: "succeeded", full: false, counts: { read: 1, updated: 1, drift: 0 } });
    expect(await driftDoc(49)).toBeUndefined();
    expect(await driftDoc(60)).toBeDefined();
  });

  it("when the platform lets the sync disable, then ineligible users are disabled (never deleted), and re-enabled once eligible again", async () => {
    await stack.sim("/settings", { method: "PATCH", body: { dataverse: { refuseSyncedUserDisable: false } } });
    await enable(P);
    const first = await stack.runNow(P);
    expect(first.counts).toMatchObject({ disabled: 3, drift: 0 });
    let rows = byObjectId(await stack.rows(P));
    for (const n of [49, 60, 296]) expect(rows.get(u(n))?.isdisabled, `user ${n}`).toBe(true);
    // The audit trail says who the sync disabled, in which run and why (L16): found by the user.
    const audit = await stack.call(`/api/tenants/${stack.tenantId}/audit?userId=${u(49)}&limit=200`, { token: stack.admin });
    const records = ((await audit.json()) as { items: { action: string; actor: { id: string }; context?: { runId?: string; changes?: unknown[] } }[] }).items;
    const change = records.filter((r) => r.action === "sync.changes" && r.context?.runId === first.id).flatMap((r) => r.context?.changes ?? []);
    expect(change).toContainEqual({ userId: u(49), op: "disable", outcome: "succeeded", failedRules: expect.arrayContaining([expect.stringMatching(/^D2\./)]) as string[] });

    await stack.sim(`/users/${u(60)}/enable`, { body: {} });
    // User 60 holds Office 365 E3 only: enabled in Entra, it may come back through an on-demand add only.
    const onDemandOnly = await stack.tickAndWait(P);
    expect(onDemandOnly).toMatchObject({ state: "succeeded", full: false, counts: { reEnabled: 0 } });
    expect(byObjectId(await stack.rows(P)).get(u(60))?.isdisabled).toBe(true);
    await licensePowerApps(60);
    const next = await stack.tickAndWait(P);
    expect(next).toMatchObject({ state: "succeeded", full: false, counts: { reEnabled: 1 } });
    rows = byObjectId(await stack.rows(P));
    expect(rows.get(u(60))?.isdisabled).toBe(false);
    expect(rows.get(u(49))?.isdisabled).toBe(true);
  });

  it("when a user changes in Entra, then the next cycle writes only that change (incremental), and the full name is left alone", async () => {
    await enable(P);
    await stack.runNow(P);
    const before = byObjectId(await stack.rows(P)).get(u(21));
    await stack.sim(`/users/${u(21)}`, { method: "PATCH", body: { jobTitle: "Head of Sales", displayName: "Someone Else" } });
    const run = await stack.tickAndWait(P);
    expect(run).toMatchObject({ state: "succeeded", full: false, counts: { read: 1, updated: 1, added: 0 } });
    const after = byObjectId(await stack.rows(P)).get(u(21));
    expect(after).toMatchObject({ title: "Head of Sales", fullname: before?.fullname });
  });

  it("when a user's street address changes in Entra, then the next incremental cycle writes it to address1_line1", async () => {
    await enable(P);
    await stack.runNow(P);
    expect(byObjectId(await stack.rows(P)).get(u(21))?.address1_line1).not.toBe("Keizersgracht 100");
    await stack.sim(`/users/${u(21)}`, { method: "PATCH", body: { streetAddress: "Keizersgracht 100" } });
    const run = await stack.tickAndWait(P);
    expect(run).toMatchObject({ state: "succeeded", full: false, counts: { read: 1, updated: 1, added: 0 } });
    expect(byObjectId(await stack.rows(P)).get(u(21))).toMatchObject({ address1_line1: "Keizersgracht 100" });
  });

  it("when nothing changed in Entra, then the next cycle starts no run and writes nothing", async () => {
    await enable(P);
    const first = await stack.runNow(P);
    await stack.sim("/counters/reset", { body: {} });
    await stack.tick();
    // The cycle is done when the directory state records it; no run follows.
    await waitForCycle(first.checkpoint.directoryCycle ?? 0);
    const counters = await stack.sim<{ dataverse: { requests: number }; bap: { byKind: Record<string, number> } }>("/counters");
    expect(counters.dataverse.requests).toBe(0);
    expect(counters.bap.byKind["environments.addUser"] ?? 0).toBe(0);
    const runs = (await (await stack.call(stack.env(P, "/sync-runs"), { token: stack.admin })).json()) as { items: unknown[] };
    expect(runs.items).toHaveLength(1);
  });

  it("when the delta token has expired (410 Gone), then the next cycle reads the directory in full and reconciles without duplicates", async () => {
    await enable(P);
    await stack.runNow(P);
    const before = await stack.rows(P);
    await stack.sim("/delta/expire", { body: {} });
    await stack.sim(`/users/${u(22)}`, { method: "PATCH", body: { jobTitle: "After the reset" } });
    const run = await stack.tickAndWait(P);
    expect(run).toMatchObject({ state: "succeeded", full: true, counts: { added: 0, updated: 1 } });
    const after = await stack.rows(P);
    expect(after).toHaveLength(before.length);
    expect(byObjectId(after).get(u(22))?.title).toBe("After the reset");
  });
});

describe("D12 throttling", () => {
  it("when Graph, Dataverse and the admin API answer 429 with Retry-After, then the run waits them out and ends as an unthrottled run does", async () => {
    await enable(P);
    const calm = await stack.runNow(P);
    const expected = await stack.rows(P);
    await stack.reset();
    await enable(P);
    await stack.sim("/settings", { method: "PATCH", body: { faults: [{ services: ["graph", "dataverse", "bap"], rate429: 0.3, retryAfterSeconds: 1 }] } });
    const throttled = await stack.runNow(P);
    const counters = await stack.sim<{ graph: { injectedFaults: number }; dataverse: { injectedFaults: number }; bap: { injectedFaults: number } }>("/counters");
    expect(counters.bap.injectedFaults + counters.dataverse.injectedFaults + counters.graph.injectedFaults).toBeGreaterThan(0);
    expect(throttled).toMatchObject({ state: "succeeded", counts: calm.counts });
    const key = (r: SimRow) => `${r.azureactivedirectoryobjectid ?? r.systemuserid}:${String(r.isdisabled)}:${r.accessmode}:${r.roles.join(",")}`;
    expect((await stack.rows(P)).map(key).sort()).toEqual(expected.map(key).sort());
  });
});

/**
 * D13: a first run, then 8 of the group's members leave it: the next run would disable them (the
 * platform lets it) and the guard (10%) holds it for approval.
 */
async function heldRun(): Promise<{ held: RunView; leaving: string[] }> {
  await stack.sim("/settings", { method: "PATCH", body: { dataverse: { refuseSyncedUserDisable: false } } });
  await enable(P, { massDisableThresholdPercent: 100 });
  await stack.runNow(P);
  await enable(P, { massDisableThresholdPercent: 10 });
  const leaving = [20, 21, 22, 23, 24, 26, 27, 28].map(u);
  await stack.sim(`/groups/${DEMO_IDS.groups.sales}/members`, { method: "PATCH", body: { remove: leaving } });
  const held = await stack.tickAndWait(P);
  expect(held).toMatchObject({ state: "awaiting-approval", guard: { disables: 8 } });
  return { held, leaving };
}

describe("D13 mass-disable guard", () => {
  it("when the users a held run would disable are put back in the group after the last directory read, then approving disables none of them: the directory is read again after the approval", async () => {
    const { held, leaving } = await heldRun();

    // Back in the group (in Entra) before the approval, with no directory cycle in between.
    await stack.sim(`/groups/${DEMO_IDS.groups.sales}/members`, { method: "PATCH", body: { add: leaving } });
    expect((await stack.call(stack.env(P, `/sync-runs/${held.id}/approve`), { method: "POST", token: stack.admin })).status).toBe(202);
    const done = await stack.waitForRun(P, held.id);
    expect(done).toMatchObject({ state: "succeeded", counts: { disabled: 0, skipped: 8 } });
    const rows = byObjectId(await stack.rows(P));
    for (const id of leaving) expect(rows.get(id)?.isdisabled).toBe(false);
  });

  it("when Entra changes while a run waits for approval, then once it is approved the change follows at once - a run that ended behind the directory starts the next - not at the next schedule (D1)", async () => {
    const { held } = await heldRun();

    // A member the first run left enabled in Dataverse.
    const synced = byObjectId(await stack.rows(P));
    const member = [30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40].map(u).find((id) => synced.get(id)?.isdisabled === false)!;
    await stack.sim(`/users/${member}`, { method: "PATCH", body: { jobTitle: "Changed while held" } });
    const state = await stack.database.container("sync").item("directory-state", `${stack.tenantId}|directory`).read<{ cycle: number }>();
    await stack.tick(); // the directory reads the change; the held run stays as it is
    await waitForCycle(state.resource?.cycle ?? 0);
    expect(byObjectId(await stack.rows(P)).get(member)?.title).not.toBe("Changed while held");

    expect((await stack.call(stack.env(P, `/sync-runs/${held.id}/approve`), { method: "POST", token: stack.admin })).status).toBe(202);
    expect((await stack.waitForRun(P, held.id)).state).toBe("succeeded");
    const { eventually } = await import("./support.js");
    await eventually(async () => (byObjectId(await stack.rows(P)).get(member)?.title === "Changed while held" ? true : undefined), "the change in Dataverse without a tick", 30_000);
  });

  it("when a run would disable more than the threshold, then it waits for approval with nothing disabled, and disables once approved", async () => {
    const { held, leaving } = await heldRun();
    expect(held).toMatchObject({ guard: { thresholdPercent: 10, approvedAt: null } });
    let rows = byObjectId(await stack.rows(P));
    for (const id of leaving) expect(rows.get(id)?.isdisabled).toBe(false);

    const approve = await stack.call(stack.env(P, `/sync-runs/${held.id}/approve`), { method: "POST", token: stack.admin });
    expect(approve.status).toBe(202);
    const done = await stack.waitForRun(P, held.id);
    expect(done).toMatchObject({ state: "succeeded", counts: { disabled: 8 } });
    rows = byObjectId(await stack.rows(P));
    for (const id of leaving) expect(rows.get(id)?.isdisabled).toBe(true);
    // D11: the run's duration leaves out the time it waited for the admin.
    const t = (iso: string | null | undefined) => Date.parse(iso ?? "");
    const ended = done as RunView & { startedAt: string; finishedAt: string; durationMs: number; guard: { heldAt: string; approvedAt: string } };
    expect(ended.durationMs).toBe(t(ended.finishedAt) - t(ended.startedAt) - (t(ended.guard.approvedAt) - t(ended.guard.heldAt)));
    const again = await stack.call(stack.env(P, `/sync-runs/${held.id}/approve`), { method: "POST", token: stack.admin });
    expect(again.status).toBe(409);
  });
});

describe("P11 pause switch", () => {
  it("when automation is paused, then a run writes nothing and waits; when resumed, then it continues at once, and a change made in Entra meanwhile follows without waiting for the next schedule", async () => {
    await enable(P);
    const path = `/api/tenants/${stack.tenantId}/settings/automation`;
    const etag = (await stack.call(path, { token: stack.admin })).headers.get("etag") ?? "";
    const pause = await stack.call(path, { method: "PUT", token: stack.admin, headers: { "If-Match": etag }, body: JSON.stringify({ paused: true }) });
    expect(pause.status).toBe(200);
    const before = await stack.rows(P);
    const paused = await stack.runNow(P, ["paused"]);
    expect(paused.state).toBe("paused");
    expect(await stack.rows(P)).toEqual(before);

    await stack.sim(`/users/${u(22)}`, { method: "PATCH", body: { jobTitle: "Changed while paused" } });

    const resume = await stack.call(path, { method: "PUT", token: stack.admin, headers: { "If-Match": pause.headers.get("etag") ?? "" }, body: JSON.stringify({ paused: false }) });
    expect(resume.status).toBe(200);
    // No timer tick: resuming starts a directory cycle, which resumes the run and reads the change...
    const done = await stack.waitForRun(P, paused.id, ["succeeded", "failed"]);
    expect(done.state).toBe("succeeded");
    expect(done.counts.added).toBeGreaterThan(0);
    // ...and the run, ended behind the directory, starts the one that applies it (D1: within one interval).
    const { eventually } = await import("./support.js");
    await eventually(async () => (byObjectId(await stack.rows(P)).get(u(22))?.title === "Changed while paused" ? true : undefined), "the change made while paused in Dataverse", 30_000);
  });
});

describe("D5 environment types in the periodic sync", () => {
  it("when a Trial environment is synced, then existing users are kept up to date and no one is added", async () => {
    const T = DEMO_IDS.environments.trial;
    await enable(T);
    await stack.sim(`/users/${u(20)}`, { method: "PATCH", body: { jobTitle: "Trial tester" } });
    const before = await stack.rows(T);
    const run = await stack.runNow(T);
    expect(run).toMatchObject({ state: "succeeded", counts: { added: 0, updated: 1 } });
    expect(run.counts.skipped).toBeGreaterThan(0);
    const after = await stack.rows(T);
    expect(after).toHaveLength(before.length);
    expect(byObjectId(after).get(u(20))?.title).toBe("Trial tester");
  });

  it("when a Dataverse for Teams environment is synced, then no one is added", async () => {
    const T = DEMO_IDS.environments.teams;
    await enable(T);
    const before = await stack.rows(T);
    const run = await stack.runNow(T);
    expect(run.counts.added).toBe(0);
    expect(await stack.rows(T)).toHaveLength(before.length);
  });

  it("when a Developer environment is synced, then only its creator is a user", async () => {
    const D = DEMO_IDS.environments.developer;
    await enable(D);
    const run = await stack.runNow(D);
    expect(run.counts.added).toBe(0);
    const users = (await stack.rows(D)).filter((r) => r.azureactivedirectoryobjectid && r.applicationid === null && r.accessmode < 3);
    expect(users.map((r) => r.azureactivedirectoryobjectid)).toEqual([DEMO_IDS.users.developerCreator]);
  });

  it("when an environment has no Dataverse database, then its sync cannot be switched on and no run starts", async () => {
    const N = DEMO_IDS.environments.noDataverse;
    const res = await stack.configure(N, { syncEnabled: true });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { type: string }).type).toMatch(/environment-without-dataverse$/);
    expect((await stack.call(stack.env(N, "/sync-runs"), { method: "POST", token: stack.admin })).status).toBe(422);
  });
});

async function waitForCycle(after: number): Promise<void> {
  const { eventually } = await import("./support.js");
  await eventually(async () => {
    const res = await stack.call(stack.env(P), { token: stack.admin });
    const body = (await res.json()) as { sync: { lastDirectoryReadAt: string | null } };
    const state = await stack.database.container("sync").item("directory-state", `${stack.tenantId}|directory`).read<{ cycle: number; active: unknown }>();
    return body.sync.lastDirectoryReadAt && state.resource && state.resource.cycle > after && state.resource.active === null ? true : undefined;
  }, "the next directory cycle");
}
