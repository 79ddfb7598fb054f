import { describe, expect, it } from "vitest";
import { DEMO_IDS, demoUserId } from "../../../local/sim-cloud/demo-tenant.js";
import { byObjectId, eventually, useSyncStack, type RunView } from "./support.js";

/**
 * D13: what an admin can do with a run the mass-disable guard holds - reject it (nothing is
 * disabled, the environment's sync runs again), or approve it (only the users still ineligible
 * when it applies are disabled). Demo tenant, Production environment "Contoso Sales" (security
 * group Sales: users 1-7 and 20-80 directly).
 */
const P = DEMO_IDS.environments.production;
const u = demoUserId;
const LEAVING = [20, 21, 22, 23, 24, 26, 27, 28].map(u);

const stack = useSyncStack();

async function enable(patch: Record<string, unknown>) {
  const res = await stack.configure(P, { syncEnabled: true, ...patch });
  expect(res.status, await res.clone().text()).toBe(200);
}

/** A first run adds the group's members; then 8 of them leave the group and the next cycle's run is held (threshold 10%). */
async function heldRun(): Promise<RunView> {
  await stack.sim("/settings", { method: "PATCH", body: { dataverse: { refuseSyncedUserDisable: false } } });
  await enable({ massDisableThresholdPercent: 100 });
  await stack.runNow(P);
  await enable({ massDisableThresholdPercent: 10 });
  await stack.sim(`/groups/${DEMO_IDS.groups.sales}/members`, { method: "PATCH", body: { remove: LEAVING } });
  const held = await stack.tickAndWait(P);
  expect(held).toMatchObject({ state: "awaiting-approval", guard: { disables: 8 } });
  return held;
}

interface AuditRecord { action: string; outcome?: string; context?: { runId?: string; changes?: Record<string, unknown>[] } }
async function auditRecords(userId: string): Promise<AuditRecord[]> {
  const res = await stack.call(`/api/tenants/${stack.tenantId}/audit?userId=${userId}&limit=200`, { token: stack.admin });
  return ((await res.json()) as { items: AuditRecord[] }).items;
}
/** The `sync.changes` entries a run recorded for a user. */
async function runChanges(runId: string, userId: string): Promise<Record<string, unknown>[]> {
  return (await auditRecords(userId)).filter((r) => r.action === "sync.changes" && r.context?.runId === runId).flatMap((r) => r.context?.changes ?? []);
}

const post = (runId: string, verb: "approve" | "reject", token = stack.admin) => stack.call(stack.env(P, `/sync-runs/${runId}/${verb}`), { method: "POST", token });

async function activeRunId(): Promise<string | null> {
  const res = await stack.call(stack.env(P), { token: stack.admin });
  return ((await res.json()) as { sync: { activeRunId: string | null } }).sync.activeRunId;
}

/** Waits until a directory cycle after `cycle` has finished (its snapshot is stored). */
async function waitForCycleAfter(cycle: number): Promise<void> {
  await eventually(async () => {
    const state = await stack.database.container("sync").item("directory-state", `${stack.tenantId}|directory`).read<{ cycle: number; active: unknown }>();
    return state.resource && state.resource.cycle > cycle && state.resource.active === null ? true : undefined;
  }, `a directory cycle after ${cycle}`);
}

describe("D13 rejecting a held run", () => {
  it("when an admin rejects a held run, then it ends rejected with nothing disabled, and a new run can start (and is held again)", async () => {
    const held = await heldRun();
    const reader = await stack.token({ tenantId: stack.tenantId, roles: ["Global Reader"] });
    expect((await post(held.id, "reject", reader)).status).toBe(403);

    const res = await post(held.id, "reject");
    expect(res.status, await res.clone().text()).toBe(200);
    const rejected = (await res.json()) as RunView & { guard: { rejectedBy: string | null; rejectedAt: string | null; approvedAt: string | null }; finishedAt: string | null };
    expect(rejected).toMatchObject({ id: held.id, state: "rejected", counts: { disabled: 0 }, guard: { disables: 8, approvedAt: null, rejectedBy: expect.any(String) as string } });
    expect(rejected.guard.rejectedAt).not.toBeNull();
    expect(rejected.finishedAt).not.toBeNull();
    const read = (await (await stack.call(stack.env(P, `/sync-runs/${held.id}`), { token: stack.admin })).json()) as RunView;
    expect(read.state).toBe("rejected");
    const rows = byObjectId(await stack.rows(P));
    for (const id of LEAVING) expect(rows.get(id)?.isdisabled, `user ${id}`).toBe(false);
    expect(await activeRunId()).toBeNull();

    const audit = await stack.call(`/api/tenants/${stack.tenantId}/audit?action=sync.run.reject&limit=200`, { token: stack.admin });
    const records = ((await audit.json()) as { items: { context?: { runId?: string } }[] }).items;
    expect(records.some((r) => r.context?.runId === held.id)).toBe(true);

    // The environment is free: a manual run starts (202) and, the directory being unchanged, is held again.
    const again = await stack.runNow(P);
    expect(again.id).not.toBe(held.id);
    expect(again).toMatchObject({ state: "awaiting-approval", guard: { disables: 8 } });
    for (const id of LEAVING) expect(byObjectId(await stack.rows(P)).get(id)?.isdisabled, `user ${id}`).toBe(false);
  });

  it("when the run is not waiting for approval, then rejecting it is a 409 problem saying its state, and approving a rejected run too", async () => {
    await enable({ massDisableThresholdPercent: 100 });
    const done = await stack.runNow(P);
    expect(done.state).toBe("succeeded");
    const res = await post(done.id, "reject");
    expect(res.status).toBe(409);
    expect(res.headers.get("content-type")).toMatch(/application\/problem\+json/);
    const problem = (await res.json()) as { type: string; status: number; detail: string; state: string };
    expect(problem).toMatchObject({ status: 409, state: "succeeded" });
    expect(problem.type).toMatch(/sync-run-not-awaiting-approval$/);
    expect(problem.detail).toMatch(/succeeded/);

    const held = await heldRun();
    expect((await post(held.id, "reject")).status).toBe(200);
    const twice = await post(held.id, "reject");
    expect(twice.status).toBe(409);
    expect(((await twice.json()) as { state: string }).state).toBe("rejected");
    expect((await post(held.id, "approve")).status).toBe(409);
  });
});

describe("D13 the guard's count of enabled users", () => {
  it("when a user was added on demand since the last full run, then an incremental run's guard counts them (as a full run would)", async () => {
    await stack.sim("/settings", { method: "PATCH", body: { dataverse: { refuseSyncedUserDisable: false } } });
    await enable({ massDisableThresholdPercent: 100 });
    await stack.runNow(P);
    // A direct member without a record (E3 only: on-demand eligible), added through the API.
    const rows = byObjectId(await stack.rows(P));
    let added = false;
    for (const id of Array.from({ length: 50 }, (_, i) => u(30 + i)).filter((id) => !rows.has(id) && !LEAVING.includes(id))) {
      const res = await stack.call(stack.env(P, "/users"), { method: "POST", token: stack.admin, body: JSON.stringify({ userId: id }) });
      if (res.status === 200 && ((await res.json()) as { outcome: string }).outcome === "added") {
        added = true;
        break;
      }
    }
    expect(added, "a group member added on demand").toBe(true);

    await enable({ massDisableThresholdPercent: 10 });
    await stack.sim(`/groups/${DEMO_IDS.groups.sales}/members`, { method: "PATCH", body: { remove: LEAVING } });
    const incremental = await stack.tickAndWait(P);
    expect(incremental).toMatchObject({ state: "awaiting-approval", full: false });
    expect((await post(incremental.id, "reject")).status).toBe(200);
    const full = await stack.runNow(P);
    expect(full).toMatchObject({ state: "awaiting-approval", full: true });

    expect(incremental.guard?.enabledUsers).toBe(full.guard?.enabledUsers);
  });
});

describe("D13 what a held run would change", () => {
  interface Action { userId: string; op: string; userPrincipalName: string | null; failedRules: string[] | null; processed: boolean }
  const actions = async (runId: string, query = "") => {
    const res = await stack.call(stack.env(P, `/sync-runs/${runId}/actions?${query}`), { token: stack.admin });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as { items: Action[]; nextCursor: string | null };
  };

  it("when a run is held, then its disables are listed - who, by name, and the rule each fails - a page at a time, and once it ends the list is a 409", async () => {
    const held = await heldRun();
    const byName = new Map((await stack.rows(P)).map((r) => [r.azureactivedirectoryobjectid, r.domainname]));

    const all = await actions(held.id, "op=disable&limit=200");
    const leaving = all.items.filter((a) => LEAVING.includes(a.userId));
    expect(leaving.map((a) => a.userId).sort()).toEqual([...LEAVING].sort());
    for (const a of leaving) {
      expect(a).toMatchObject({ op: "disable", processed: false, failedRules: ["D2.securityGroup"] });
      expect(a.userPrincipalName).toBe(byName.get(a.userId));
    }
    expect(all.items).toHaveLength(held.guard?.disables ?? -1);
    // A page at a time: the pages join up to the whole list; the cursor is bound to its filter.
    const first = await actions(held.id, "op=disable&limit=3");
    expect(first.items).toEqual(all.items.slice(0, 3));
    const second = await actions(held.id, `op=disable&limit=200&cursor=${encodeURIComponent(first.nextCursor ?? "")}`);
    expect([...first.items, ...second.items]).toEqual(all.items);
    expect(second.nextCursor).toBeNull();
    const other = await stack.call(stack.env(P, `/sync-runs/${held.id}/actions?op=add&cursor=${encodeURIComponent(first.nextCursor ?? "")}`), { token: stack.admin });
    expect(other.status).toBe(400);

    expect((await post(held.id, "reject")).status).toBe(200);
    const ended = await stack.call(stack.env(P, `/sync-runs/${held.id}/actions`), { token: stack.admin });
    expect(ended.status).toBe(409);
    expect(await ended.json()).toMatchObject({ type: expect.stringMatching(/sync-run-plan-unavailable$/) as string, state: "rejected" });
    expect((await stack.call(stack.env(P, "/sync-runs/00000000-0000-4000-8000-000000000000/actions"), { token: stack.admin })).status).toBe(404);
  });
});

describe("D13 approving a held run", () => {
  it("when users the run planned to disable are back in the security group before it is approved, then only the still ineligible users are disabled", async () => {
    const held = await heldRun();
    const back = LEAVING.slice(0, 3);
    const stillGone = LEAVING.slice(3);
    await stack.sim(`/groups/${DEMO_IDS.groups.sales}/members`, { method: "PATCH", body: { add: back } });
    // The next directory cycle stores the change; the held run stays held meanwhile.
    await stack.tick();
    await waitForCycleAfter(held.checkpoint.directoryCycle ?? 0);
    expect(await activeRunId()).toBe(held.id);

    const approve = await post(held.id, "approve");
    expect(approve.status).toBe(202);
    const done = await stack.waitForRun(P, held.id);
    expect(done).toMatchObject({ state: "succeeded", counts: { disabled: stillGone.length, failed: 0, skipped: held.counts.skipped + back.length } });
    const rows = byObjectId(await stack.rows(P));
    for (const id of back) expect(rows.get(id)?.isdisabled, `user ${id} (back in the group)`).toBe(false);
    for (const id of stillGone) expect(rows.get(id)?.isdisabled, `user ${id}`).toBe(true);
    // The audit trail says per user why an approved disable was not made.
    const changes = await runChanges(held.id, back[0]!);
    expect(changes).toContainEqual(expect.objectContaining({ userId: back[0], op: "disable", outcome: "skipped", reason: expect.stringMatching(/eligible again/) as string }));
  });

  it("when the platform refused the approved disables (drift), then later runs asking for them again are not held again", async () => {
    const held = await heldRun();
    // Microsoft-hosted Dataverse: the platform refuses to disable users it syncs itself.
    await stack.sim("/settings", { method: "PATCH", body: { dataverse: { refuseSyncedUserDisable: true } } });
    expect((await post(held.id, "approve")).status).toBe(202);
    expect(await stack.waitForRun(P, held.id)).toMatchObject({ state: "succeeded", counts: { disabled: 0, drift: 8 } });
    // Refused by the platform: drift, with the run succeeded - its audit record agrees (refused per change, not a failed record).
    const records = await auditRecords(LEAVING[0]!);
    const record = records.find((r) => r.action === "sync.changes" && r.context?.runId === held.id);
    expect(record).toMatchObject({ outcome: "succeeded" });
    expect(record?.context?.changes).toContainEqual(expect.objectContaining({ userId: LEAVING[0], op: "disable", outcome: "refused" }));

    // A full run (manual) plans the same 8 disables: the platform may accept them now, but no admin is asked again.
    const again = await stack.runNow(P);

    expect(again, again.error ?? "").toMatchObject({ state: "succeeded", guard: null, counts: { drift: 8 } });
    // A new leaver is one new disable: under the threshold, not held either.
    await stack.sim(`/groups/${DEMO_IDS.groups.sales}/members`, { method: "PATCH", body: { remove: [u(29)] } });
    expect(await stack.tickAndWait(P)).toMatchObject({ state: "succeeded", guard: null });
  });

  it("when users whose disable the platform refused (drift) are back in the group before a held run is approved, then they are spared and their drift goes", async () => {
    const refused = [u(29), u(31), u(32)];
    await enable({ massDisableThresholdPercent: 100 });
    await stack.runNow(P);
    // Refused disables: drift.
    await stack.sim(`/groups/${DEMO_IDS.groups.sales}/members`, { method: "PATCH", body: { remove: refused } });
    expect(await stack.tickAndWait(P)).toMatchObject({ state: "succeeded", counts: { drift: 3 } });
    // Eight more leave: held. The refused disables count too (never approved): the three, and the demo's
    // three users the first run found ineligible.
    await enable({ massDisableThresholdPercent: 10 });
    await stack.sim(`/groups/${DEMO_IDS.groups.sales}/members`, { method: "PATCH", body: { remove: LEAVING } });
    const held = await stack.runNow(P);
    expect(held).toMatchObject({ state: "awaiting-approval", guard: { disables: 14 } });
    // The three are back before the approval.
    await stack.sim(`/groups/${DEMO_IDS.groups.sales}/members`, { method: "PATCH", body: { add: refused } });
    await stack.tick();
    await waitForCycleAfter(held.checkpoint.directoryCycle ?? 0);

    expect((await post(held.id, "approve")).status).toBe(202);
    await stack.waitForRun(P, held.id);

    const res = await stack.call(stack.env(P, "/users?limit=200"), { token: stack.admin });
    const items = ((await res.json()) as { items: { userId: string | null; drift: unknown }[] }).items;
    for (const id of refused) expect(items.find((i) => i.userId === id)?.drift, `user ${id}`).toBeNull();
  });

  it("when the environment's sync was turned off while the run waited, then approving it is 422 sync-disabled and nothing is disabled; rejecting still works", async () => {
    const held = await heldRun();
    expect((await stack.configure(P, { syncEnabled: false })).status).toBe(200);

    const res = await post(held.id, "approve");

    expect(res.status, await res.clone().text()).toBe(422);
    expect(await res.json()).toMatchObject({ type: expect.stringMatching(/sync-disabled$/) as string });
    expect((await (await stack.call(stack.env(P, `/sync-runs/${held.id}`), { token: stack.admin })).json()) as RunView).toMatchObject({ state: "awaiting-approval" });
    for (const id of LEAVING) expect(byObjectId(await stack.rows(P)).get(id)?.isdisabled, `user ${id}`).toBe(false);
    // An unknown run, or one not held, is still 404 / 409 first.
    expect((await post("00000000-0000-4000-8000-000000000000", "approve")).status).toBe(404);
    expect((await post(held.id, "reject")).status).toBe(200);
    expect((await post(held.id, "approve")).status).toBe(409);
  });

  it("when refused disables build up over runs each under the threshold (never approved), then a run asking for them all is held: the platform may accept them now", async () => {
    await enable({ massDisableThresholdPercent: 100 });
    await stack.runNow(P);
    await enable({ massDisableThresholdPercent: 10 });
    for (const leavers of [LEAVING.slice(0, 3), LEAVING.slice(3, 6)]) {
      await stack.sim(`/groups/${DEMO_IDS.groups.sales}/members`, { method: "PATCH", body: { remove: leavers } });
      expect(await stack.tickAndWait(P)).toMatchObject({ state: "succeeded", guard: null, counts: { drift: 3 } });
    }

    const full = await stack.runNow(P);

    // The six, and the demo's three users the first run found ineligible (refused then, never approved).
    expect(full).toMatchObject({ state: "awaiting-approval", guard: { disables: 9 } });
  });
});
