import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_IDS, DEMO_PLANS, DEMO_SIGNIN_APPS, DEMO_SKUS } from "../../../local/sim-cloud/demo-tenant.js";
import { signInEvent, startAutoClaimStack, TENANT, type AutoClaimStack } from "./support.js";

let s: AutoClaimStack;
beforeAll(async () => {
  s = await startAutoClaimStack({ SIGNIN_POLL_ENABLED: "true", AUTOCLAIM_RECLAIM_AFTER_DAYS: "1" });
});
afterAll(async () => {
  await s?.stop();
});

const runTimer = async (name: string) => {
  const res = await fetch(`${s.stack.hostUrl}/admin/functions/${name}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ input: "" }) });
  expect(res.status).toBe(202);
};

async function eventually<T>(read: () => Promise<T | undefined>, what: string, timeoutMs = 45_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const value = await read();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const userFreeFlow = async (userId: string) => {
  const user = (await s.sim(`/users/${userId}`)) as { assignedLicenses: { skuId: string; disabledPlans: string[] }[] };
  return user.assignedLicenses.find((l) => l.skuId === DEMO_SKUS.powerAutomateFree);
};

describe("L12: the free tracking plan", () => {
  it("when a user first uses Power Automate, then its free plan is assigned even with auto-claim off; removed or disabled by an admin, it comes back at the next sign-in", async () => {
    const app = DEMO_SIGNIN_APPS.powerAutomate.appId;
    const [user] = await s.addUsers(1);
    const first = signInEvent(user!, app, { trigger: "premium-flow-run" });
    expect((await s.postEvent(first)).status).toBe(202);
    expect(await s.waitForEvent(String(first.eventId))).toMatchObject({ code: "auto-claim-off", trackingPlan: { outcome: "assigned" } });
    expect(await userFreeFlow(user!)).toEqual({ skuId: DEMO_SKUS.powerAutomateFree, disabledPlans: [] });

    await s.sim(`/users/${user!}/licenses`, { method: "PUT", body: { licenses: [] } });
    const second = signInEvent(user!, app, { trigger: "premium-flow-save" });
    await s.postEvent(second);
    expect(await s.waitForEvent(String(second.eventId))).toMatchObject({ trackingPlan: { outcome: "assigned" } });
    expect(await userFreeFlow(user!)).toBeDefined();

    await s.sim(`/users/${user!}/licenses`, { method: "PUT", body: { licenses: [{ skuId: DEMO_SKUS.powerAutomateFree, disabledPlans: [DEMO_PLANS.flowViral] }] } });
    const third = signInEvent(user!, app, { trigger: "premium-flow-run" });
    await s.postEvent(third);
    expect(await s.waitForEvent(String(third.eventId))).toMatchObject({ trackingPlan: { outcome: "re-enabled" } });
    expect(await userFreeFlow(user!)).toEqual({ skuId: DEMO_SKUS.powerAutomateFree, disabledPlans: [] });
  });
});

describe("the report (A7, A11)", () => {
  it("when licenses were claimed and events skipped, then the report lists them per policy and product with the users, and the skipped events with their reasons", async () => {
    await s.setSetting("auto-claim", { enabled: true });
    await s.setAvailable(DEMO_SKUS.powerAutomatePerUser, 10);
    const appId = randomUUID();
    const policy = await s.createPolicy({ name: "Report", appId, products: [{ skuId: DEMO_SKUS.powerAutomatePerUser }] });
    const users = await s.addUsers(2);
    for (const u of users) {
      const e = signInEvent(u, appId);
      await s.postEvent(e);
      expect(await s.waitForEvent(String(e.eventId))).toMatchObject({ status: "claimed" });
    }
    const guest = signInEvent(DEMO_IDS.users.guest, appId);
    await s.postEvent(guest);
    await s.waitForEvent(String(guest.eventId));

    const res = await s.stack.call(`/api/tenants/${TENANT}/auto-claim-policies/report`, { token: await s.stack.token({ tenantId: TENANT, roles: ["Global Reader"] }) });
    expect(res.status).toBe(200);
    const report = (await res.json()) as {
      days: number;
      policies: { policyId: string; count: number; products: { skuId: string; count: number; users: { userId: string }[] }[] }[];
      skipped: { byReason: { code: string }[]; events: { eventId: string; code: string }[] };
    };
    expect(report.days).toBe(90);
    const mine = report.policies.find((p) => p.policyId === policy.id);
    expect(mine).toMatchObject({ count: 2, products: [{ skuId: DEMO_SKUS.powerAutomatePerUser, count: 2 }] });
    expect(mine?.products[0]?.users.map((u) => u.userId).sort()).toEqual([...users].sort());
    expect(report.skipped.events).toEqual(expect.arrayContaining([expect.objectContaining({ eventId: guest.eventId, code: "guest-user" })]));
    expect((await s.stack.call(`/api/tenants/${TENANT}/auto-claim-policies/report?days=2`, { token: s.admin })).status).toBe(400);
    expect((await s.stack.call(`/api/tenants/${TENANT}/auto-claim-policies/report?days=7`, { token: await s.stack.token({ tenantId: TENANT, roles: ["License Administrator"] }) })).status).toBe(403);
  });
});

describe("E2: the sign-in log poller", () => {
  it("when a user appears in the sign-in log on a connected app, then the poller queues a first-sign-in event and the user claims", async () => {
    await s.setSetting("auto-claim", { enabled: true });
    await s.setAvailable(DEMO_SKUS.powerAutomatePerUser, 10);
    const appId = randomUUID();
    await s.createPolicy({ name: "E2 app", appId, products: [{ skuId: DEMO_SKUS.powerAutomatePerUser }] });
    const [user] = await s.addUsers(1);
    const signInId = randomUUID();
    await s.sim("/signins", {
      method: "POST",
      body: { id: signInId, createdDateTime: new Date().toISOString(), userId: user, userPrincipalName: `${user!}@contoso-sim.onmicrosoft.com`, appId, appDisplayName: "E2 app" },
    });
    await runTimer("sign-in-log-poll-timer");
    expect(await s.waitForEvent(`e2-${signInId}`)).toMatchObject({ status: "claimed", source: "E2", caller: "sign-in-log" });
  });
});

describe("A13: reclamation (off by default)", () => {
  it("when a claimed license has not been used for the configured days, then it returns to the pool and the report says why", async () => {
    await s.setSetting("auto-claim", { enabled: true });
    await s.setAvailable(DEMO_SKUS.powerAppsPerUser, 5);
    const app = DEMO_SIGNIN_APPS.powerApps.appId;
    await s.createPolicy({ name: "Power Apps", appId: app, products: [{ skuId: DEMO_SKUS.powerAppsPerUser }] });
    const [idle, active] = await s.addUsers(2);
    for (const u of [idle!, active!]) {
      const e = signInEvent(u, app, { trigger: "premium-app-launch" });
      await s.postEvent(e);
      expect(await s.waitForEvent(String(e.eventId))).toMatchObject({ status: "claimed" });
    }
    // The idle user's last use and claim are three days old; the active user's are fresh.
    const old = new Date(Date.now() - 3 * 24 * 3600_000).toISOString();
    await s.stack.database.container("usage").item(`${idle!}|powerApps`, TENANT).patch([{ op: "set", path: "/lastAccessAt", value: old }]);
    await s.stack.database.container("autoclaim").item(`claim:${app}:${idle!}`, TENANT).patch([{ op: "set", path: "/claimedAt", value: old }]);

    await runTimer("auto-claim-reclaim-timer");
    const reclaimed = await eventually(async () => {
      const { resource } = await s.stack.database.container("autoclaim").item(`claim:${app}:${idle!}`, TENANT).read<{ status: string; reclaimReason?: string }>();
      return resource?.status === "reclaimed" ? resource : undefined;
    }, "the reclamation");
    expect(reclaimed.reclaimReason).toMatch(/not used for 1 days/);
    expect(await s.userLicenses(idle!)).not.toContain(DEMO_SKUS.powerAppsPerUser);
    expect(await s.userLicenses(active!)).toContain(DEMO_SKUS.powerAppsPerUser);
    const report = (await (await s.stack.call(`/api/tenants/${TENANT}/auto-claim-policies/report?days=7`, { token: s.admin })).json()) as { reclaimed: { userId: string; reason: string }[] };
    expect(report.reclaimed).toEqual(expect.arrayContaining([expect.objectContaining({ userId: idle, reason: expect.stringMatching(/A13/) })]));
  });
});
