import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_IDS, DEMO_PLANS, DEMO_SIGNIN_APPS, DEMO_SKUS } from "../../../local/sim-cloud/demo-tenant.js";
import { KNOWN_APPS } from "../../../shared/autoclaim/apps.js";
import { BI_SKUS, signInEvent, startAutoClaimStack, TENANT, type AutoClaimStack } from "./support.js";

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

/** The app of the tests that want a policy of their own (it claims at sign-in); `s.freshPolicy` replaces an earlier test's. */
const POWER_BI = KNOWN_APPS.powerBi.appId;

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

describe("L12 failures in the report (A11)", () => {
  it("when a user's free tracking plan cannot be assigned, then the report lists the sign-in under trackingPlansFailed with the plan's code and reason, whatever the event's own status", async () => {
    const app = DEMO_SIGNIN_APPS.powerAutomate.appId;
    const [user] = await s.addUsers(1, { usageLocation: null });
    const event = signInEvent(user!, app);
    await s.postEvent(event);
    expect(await s.waitForEvent(String(event.eventId))).toMatchObject({ trackingPlan: { outcome: "failed", code: "usage-location-missing" } });
    const report = (await (await s.stack.call(`/api/tenants/${TENANT}/auto-claim-policies/report?days=1`, { token: s.admin })).json()) as {
      trackingPlansFailed: { count: number; byReason: { code: string; count: number }[]; events: { eventId: string; code: string; reason: string }[] };
    };
    expect(report.trackingPlansFailed.byReason).toContainEqual({ code: "usage-location-missing", count: expect.any(Number) as number });
    expect(report.trackingPlansFailed.events).toContainEqual(
      expect.objectContaining({ eventId: event.eventId, code: "usage-location-missing", reason: expect.stringMatching(/usage location/) as string }),
    );
  });
});

describe("use of an app (L13, L19, A13)", () => {
  it("when a user signs in to Power Apps and nothing is claimed (auto-claim off, or no policy), then the sign-in is still recorded as use", async () => {
    const app = DEMO_SIGNIN_APPS.powerApps.appId;
    const usage = async (userId: string) => (await s.stack.database.container("usage").item(`${userId}|powerApps`, TENANT).read<{ lastAccessAt: string }>()).resource;
    const [off, plain] = await s.addUsers(2);

    await s.setSetting("auto-claim", { enabled: false });
    const first = signInEvent(off!, app, { trigger: "premium-app-launch" });
    await s.postEvent(first);
    expect(await s.waitForEvent(String(first.eventId))).toMatchObject({ status: "skipped", code: "auto-claim-off" });
    expect(await usage(off!)).toMatchObject({ lastAccessAt: first.occurredAt });

    await s.setSetting("auto-claim", { enabled: true });
    const second = signInEvent(plain!, app, { trigger: "sign-in" });
    await s.postEvent(second);
    expect(await s.waitForEvent(String(second.eventId))).toMatchObject({ status: "skipped" }); // no policy for Power Apps yet, and a plain sign-in claims nothing for it (A8)
    expect(await usage(plain!)).toMatchObject({ lastAccessAt: second.occurredAt });
  });
});

describe("the report (A7, A11)", () => {
  it("when licenses were claimed and events skipped, then the report lists them per policy and product with the users, and the skipped events with their reasons", async () => {
    await s.setSetting("auto-claim", { enabled: true });
    await s.setAvailable(BI_SKUS.primary, 10);
    const appId = POWER_BI;
    const policy = await s.freshPolicy({ name: "Report", appId, products: [{ skuId: BI_SKUS.primary }] });
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
    expect(mine).toMatchObject({ count: 2, products: [{ skuId: BI_SKUS.primary, count: 2 }] });
    expect(mine?.products[0]?.users.map((u) => u.userId).sort()).toEqual([...users].sort());
    expect(report.skipped.events).toEqual(expect.arrayContaining([expect.objectContaining({ eventId: guest.eventId, code: "guest-user" })]));
    expect((await s.stack.call(`/api/tenants/${TENANT}/auto-claim-policies/report?days=2`, { token: s.admin })).status).toBe(400);
    expect((await s.stack.call(`/api/tenants/${TENANT}/auto-claim-policies/report?days=7`, { token: await s.stack.token({ tenantId: TENANT, roles: ["License Administrator"] }) })).status).toBe(403);
  });
});

describe("the report of a deleted policy (A6, A7)", () => {
  it("when a policy renamed after its claims is deleted, then the report lists its claims under the name it had when deleted", async () => {
    await s.setSetting("auto-claim", { enabled: true });
    await s.setAvailable(BI_SKUS.primary, 10);
    const appId = POWER_BI;
    const policy = await s.freshPolicy({ name: "Name A", appId, products: [{ skuId: BI_SKUS.primary }] });
    const [user] = await s.addUsers(1);
    const e = signInEvent(user!, appId);
    await s.postEvent(e);
    expect(await s.waitForEvent(String(e.eventId))).toMatchObject({ status: "claimed" });
    const url = `/api/tenants/${TENANT}/auto-claim-policies/${policy.id}`;
    const renamed = await s.stack.call(url, { method: "PATCH", token: s.admin, headers: { "If-Match": policy.etag }, body: JSON.stringify({ name: "Name C" }) });
    expect(renamed.status, await renamed.clone().text()).toBe(200);
    expect((await s.stack.call(url, { method: "DELETE", token: s.admin, headers: { "If-Match": renamed.headers.get("etag") ?? "" } })).status).toBe(204);
    expect((await s.stack.call(url, { token: s.admin })).status).toBe(404);

    const report = (await (await s.stack.call(`/api/tenants/${TENANT}/auto-claim-policies/report?days=1`, { token: s.admin })).json()) as {
      policies: { policyId: string; name: string; deleted: boolean; count: number }[];
    };

    expect(report.policies.find((p) => p.policyId === policy.id)).toMatchObject({ name: "Name C", deleted: true, count: 1 });
    // The app can have a new policy.
    await s.createPolicy({ name: "Next", appId, products: [{ skuId: BI_SKUS.primary }] });
  });
});

describe("E2: the sign-in log poller", () => {
  it("when a user appears in the sign-in log on a connected app, then the poller queues a first-sign-in event and the user claims", async () => {
    await s.setSetting("auto-claim", { enabled: true });
    await s.setAvailable(BI_SKUS.primary, 10);
    const appId = POWER_BI;
    await s.freshPolicy({ name: "E2 app", appId, products: [{ skuId: BI_SKUS.primary }] });
    const [user] = await s.addUsers(1);
    const at = new Date().toISOString();
    await s.sim("/signins", {
      method: "POST",
      body: { id: randomUUID(), createdDateTime: at, userId: user, userPrincipalName: `${user!}@contoso-sim.onmicrosoft.com`, appId, appDisplayName: "Power BI" },
    });
    await runTimer("sign-in-log-poll-timer");
    // One event per user, app and UTC day of the sign-in.
    expect(await s.waitForEvent(`e2-${at.slice(0, 10).replaceAll("-", "")}-${user!}-${appId}`)).toMatchObject({ status: "claimed", source: "E2", caller: "sign-in-log" });
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
    // Reclaimed today, claimed three days ago: in the report of the last day.
    const report = (await (await s.stack.call(`/api/tenants/${TENANT}/auto-claim-policies/report?days=1`, { token: s.admin })).json()) as { reclaimed: { userId: string; reason: string }[] };
    expect(report.reclaimed).toEqual(expect.arrayContaining([expect.objectContaining({ userId: idle, reason: expect.stringMatching(/A13/) })]));
  });
});

describe("A10 maintenance: abandoned reservations and counters", () => {
  const P = BI_SKUS.primary;
  const events = () => s.stack.database.container("events");
  const autoclaim = () => s.stack.database.container("autoclaim");

  const counters = async (skuId: string) =>
    (
      await autoclaim()
        .items.query<{ id: string; shard: number; available: number }>({
          query: "SELECT c.id, c.shard, c.available FROM c WHERE c.type = 'sku-counter' AND c.skuId = @s",
          parameters: [{ name: "@s", value: skuId }],
        })
        .fetchAll()
    ).resources;
  const counted = async (skuId: string) => (await counters(skuId)).reduce((sum, c) => sum + c.available, 0);
  const availableInGraph = async (skuId: string) =>
    ((await s.sim("/summary")) as { skus: { skuId: string; available: number }[] }).skus.find((x) => x.skuId === skuId)!.available;

  /**
   * What a worker leaves behind when it dies between reserving and finishing: the event still
   * queued, a pending claim past its expiry, one unit taken from a counter shard.
   */
  async function abandonedClaim(template: Record<string, unknown>, appId: string, userId: string, status = "queued"): Promise<string> {
    const eventId = `ev-${randomUUID()}`;
    const event = { ...(template.event as Record<string, unknown>), eventId, userId };
    await events().items.create({
      ...template, id: eventId, partitionKey: `${TENANT}|${eventId}`, event, status, code: null, reason: null, claim: null, processedAt: null,
    });
    const shard = (await counters(P)).find((c) => c.available > 0)!;
    await autoclaim().item(shard.id, TENANT).patch([{ op: "incr", path: "/available", value: -1 }]);
    const past = new Date(Date.now() - 60 * 60_000).toISOString();
    await autoclaim().items.create({
      id: `claim:${appId}:${userId}`, type: "claim", tenantId: TENANT, appId, userId, status: "pending", eventId, trigger: "sign-in",
      source: template.source, caller: template.caller, policyId: "p", policyName: "abandoned", skuId: P, shard: shard.shard, createdAt: past, expiresAt: past,
    });
    return eventId;
  }

  it("when a worker died holding a reservation, then the unit is given back and the event claims again; when it died after Graph assigned, the claim is settled; the counters end equal to Graph", async () => {
    await s.setSetting("auto-claim", { enabled: true });
    await s.setAvailable(P, 5);
    const appId = POWER_BI;
    await s.freshPolicy({ name: "maintenance", appId, products: [{ skuId: P }] });
    const [first, beforeGraph, afterGraph] = await s.addUsers(3);
    const e = signInEvent(first!, appId);
    await s.postEvent(e);
    expect(await s.waitForEvent(String(e.eventId))).toMatchObject({ status: "claimed" });
    const { resource: template } = await events().item(String(e.eventId), `${TENANT}|${String(e.eventId)}`).read<Record<string, unknown>>();

    // An event the daily cap had deferred: its processing began on the next day when the worker died.
    const diedBeforeGraph = await abandonedClaim(template!, appId, beforeGraph!, "deferred");
    const diedAfterGraph = await abandonedClaim(template!, appId, afterGraph!);
    await s.sim(`/users/${afterGraph!}/licenses`, { method: "PUT", body: { licenses: [{ skuId: P }] } });
    expect(await counted(P)).toBe(2);

    await runTimer("auto-claim-maintenance-timer");
    expect(await s.waitForEvent(diedBeforeGraph)).toMatchObject({ status: "claimed", claim: { skuId: P } });
    expect(await s.waitForEvent(diedAfterGraph)).toMatchObject({ status: "claimed", claim: { skuId: P } });
    expect(await s.userLicenses(beforeGraph!)).toContain(P);
    const { resource: settled } = await autoclaim().item(`claim:${appId}:${afterGraph!}`, TENANT).read<{ status: string }>();
    expect(settled?.status).toBe("claimed");

    // Three claimed of five: Graph has two left, and after the next run so do the counters.
    expect(await availableInGraph(P)).toBe(2);
    await runTimer("auto-claim-maintenance-timer");
    expect(await eventually(async () => ((await counted(P)) === 2 ? true : undefined), "counters equal to Graph")).toBe(true);
  });

  it("when a new sign-in meets another event's abandoned claim, or a claim whose license was taken back, then it takes the claim over: one license each, the abandoned unit given back", async () => {
    await s.setSetting("auto-claim", { enabled: true });
    await s.setAvailable(P, 5);
    const appId = POWER_BI;
    const policy = await s.freshPolicy({ name: "takeover", appId, products: [{ skuId: P }] });
    const [first, stale] = await s.addUsers(2);
    const e = signInEvent(first!, appId);
    await s.postEvent(e);
    expect(await s.waitForEvent(String(e.eventId))).toMatchObject({ status: "claimed" });
    const { resource: template } = await events().item(String(e.eventId), `${TENANT}|${String(e.eventId)}`).read<Record<string, unknown>>();
    const abandoned = await abandonedClaim(template!, appId, stale!);
    expect(await counted(P)).toBe(3);

    // The stale user signs in again (a new event): the abandoned claim is taken over.
    const again = signInEvent(stale!, appId);
    await s.postEvent(again);
    expect(await s.waitForEvent(String(again.eventId))).toMatchObject({ status: "claimed", claim: { skuId: P } });
    const { resource: takenOver } = await autoclaim().item(`claim:${appId}:${stale!}`, TENANT).read<{ status: string; eventId: string }>();
    expect(takenOver).toMatchObject({ status: "claimed", eventId: String(again.eventId) });
    expect(abandoned).not.toBe(String(again.eventId));

    // Some minutes later (the claim's claimedAt moved back past Graph's read lag), an admin took the
    // first user's license away: the next sign-in claims afresh over the old claim.
    await autoclaim().item(`claim:${appId}:${first!}`, TENANT).patch([{ op: "set", path: "/claimedAt", value: new Date(Date.now() - 10 * 60_000).toISOString() }]);
    await s.sim(`/users/${first!}/licenses`, { method: "PUT", body: { licenses: [] } });
    const back = signInEvent(first!, appId);
    await s.postEvent(back);
    expect(await s.waitForEvent(String(back.eventId))).toMatchObject({ status: "claimed", claim: { skuId: P } });
    expect(await s.userLicenses(first!)).toContain(P);
    // The report (A7) still lists the claims that were taken over, besides the new ones.
    const report = (await (await s.stack.call(`/api/tenants/${TENANT}/auto-claim-policies/report?days=1`, { token: s.admin })).json()) as {
      policies: { policyId: string; count: number; products: { users: { userId: string; eventId: string }[] }[] }[];
    };
    const mine = report.policies.find((p) => p.policyId === policy.id);
    expect(mine?.products[0]?.users.filter((u) => u.userId === first).map((u) => u.eventId).sort()).toEqual([String(e.eventId), String(back.eventId)].sort());
    expect(mine?.count).toBe(3); // first, its claim back, and the stale user's (the abandoned claim never completed)

    // Graph: two licenses held of five. Counters: five, minus a unit for each of the four claims
    // (first, abandoned, taken over, claimed back), plus the abandoned unit given back = 2 (the unit
    // the admin freed returns at the next maintenance).
    expect(await availableInGraph(P)).toBe(3);
    expect(await counted(P)).toBe(2);
  });

  it("when an admin assigns or frees licenses outside this product, then the counters follow subscribedSkus at the next maintenance", async () => {
    await s.setSetting("auto-claim", { enabled: true });
    await s.setAvailable(P, 6);
    const appId = POWER_BI;
    await s.freshPolicy({ name: "reconcile", appId, products: [{ skuId: P }] });
    const [user] = await s.addUsers(1);
    const e = signInEvent(user!, appId);
    await s.postEvent(e);
    expect(await s.waitForEvent(String(e.eventId))).toMatchObject({ status: "claimed" });
    expect(await counted(P)).toBe(5);

    for (const target of [2, 7]) {
      const summary = (await s.sim("/summary")) as { skus: { skuId: string; consumedUnits: number }[] };
      const consumed = summary.skus.find((x) => x.skuId === P)!.consumedUnits;
      await s.sim(`/skus/${P}`, { method: "PATCH", body: { prepaidUnits: { enabled: consumed + target, warning: 0 } } });
      await runTimer("auto-claim-maintenance-timer");
      expect(await eventually(async () => ((await counted(P)) === target ? true : undefined), `counters at ${target}`)).toBe(true);
    }
  });
});
