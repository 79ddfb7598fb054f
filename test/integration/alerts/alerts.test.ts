import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEMO_IDS, DEMO_SKUS, demoUserId } from "../../../local/sim-cloud/demo-tenant.js";
import type { DirectoryRole } from "../../../shared/auth/roles.js";
import { startLicenseStack, type LicenseStack } from "../licenses/support.js";
import { startReceiver, type ReceivedAlert, type WebhookReceiver } from "./receiver.js";

/**
 * L18 alerts through the real Functions host, the simulated Microsoft cloud and a webhook receiver
 * on a free loopback port: the admin's request raises the alert, the event queue delivers it.
 * Alerts and their dedupe locks live in Cosmos for the whole file (one tenant), so each test uses
 * its own product, reads the catalog fresh from Graph first, and asserts on its own product.
 */
const GA: DirectoryRole[] = ["Global Administrator"];

let s: LicenseStack;
let hook: WebhookReceiver;
beforeAll(async () => {
  [s, hook] = await Promise.all([startLicenseStack(), startReceiver()]);
});
afterAll(async () => {
  await Promise.all([s?.stop(), hook?.close()]);
});
beforeEach(async () => {
  await s.resetSim();
});

interface Product {
  skuId: string;
  kind: string;
  skuPartNumber: string;
  total: number;
  assigned: number;
  available: number;
}
interface AlertView {
  id: string;
  type: string;
  state: string;
  resolvedAt: string | null;
  product: { skuId: string } | null;
  figures: { total: number; available: number; threshold: { count?: number } } | null;
  failure: { source: string; code: string; occurrences: number; userIds: string[]; groupId: string | null } | null;
  delivery: { status: string; attempts: number; lastError: string | null; deliveredAt: string | null };
}
interface Problem {
  type: string;
  status: number;
  errors?: { path: string; message: string }[];
}

async function putAlertSettings(body: unknown, options: { roles?: DirectoryRole[]; ifMatch?: string | null } = {}): Promise<Response> {
  let ifMatch = options.ifMatch;
  if (ifMatch === undefined) ifMatch = (await s.api("settings/alerts", { roles: GA })).headers.get("etag");
  return s.api("settings/alerts", { method: "PUT", body, roles: options.roles ?? GA, headers: ifMatch === null ? {} : { "If-Match": ifMatch ?? "" } });
}

async function enableAlerts(webhookUrl: string, lowStock: { count?: number; percent?: number } = {}): Promise<void> {
  const res = await putAlertSettings({ enabled: true, webhookUrl, lowStock });
  expect(res.status, await res.clone().text()).toBe(200);
}

/** The catalog read from Graph now (which also runs the low-stock check of the refresh). */
async function freshProducts(): Promise<Product[]> {
  const res = await s.api("products?limit=200", { headers: { "Cache-Control": "no-cache" } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: Product[] }).items;
}

async function alertsOf(query = ""): Promise<AlertView[]> {
  const res = await s.api(`alerts?limit=200${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: AlertView[] }).items;
}

/** Polls `read` until `done` holds (state that no event announces, e.g. a record in Cosmos). */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const forSku = (skuId: string, type = "low-stock") => (r: ReceivedAlert) => r.body.type === type && r.body.product?.skuId === skuId;
const assignProduct = (skuId: string, userIds: string[]) => s.api(`products/${skuId}/assignments`, { method: "POST", body: { userIds } });
/** The next product check sees the counts as Graph has them, with no low-stock alert of this product left open. */
async function settleProduct(skuId: string, threshold: number): Promise<Product> {
  const product = (await freshProducts()).find((p) => p.skuId === skuId);
  if (!product) throw new Error(`no product ${skuId}`);
  expect(product.available).toBeGreaterThanOrEqual(threshold);
  await eventually(() => alertsOf("&type=low-stock"), (items) => items.every((a) => a.product?.skuId !== skuId || a.state === "resolved"));
  return product;
}

describe("L18 alert settings", () => {
  it("when never set, then alerts are off with no webhook and ETag \"default\"", async () => {
    // Runs first in the file: nothing has set the tenant's alert settings yet.
    const res = await s.api("settings/alerts", { roles: ["Global Reader"] });
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toBe('"default"');
    expect(await res.json()).toMatchObject({ enabled: false, webhookUrl: null, lowStock: {} });
  });

  it("when a Global Administrator sets them, then they are stored with a new ETag and only a Global Administrator reads the URL whole", async () => {
    const url = "https://hooks.example.com/services/T0001/B0001/secret-token?code=abc";
    const res = await putAlertSettings({ enabled: true, webhookUrl: url, lowStock: { percent: 10, count: 3 } });
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).not.toBe('"default"');
    expect(await res.json()).toMatchObject({ enabled: true, webhookUrl: url, webhookUrlRedacted: false, lowStock: { percent: 10, count: 3 } });

    const asReader = await (await s.api("settings/alerts", { roles: ["Global Reader"] })).json();
    expect(asReader).toMatchObject({ webhookUrl: "https://hooks.example.com/…", webhookUrlRedacted: true });
    const audit = (await (await s.api("audit?action=settings.alerts.update", { roles: GA })).json()) as { items: { after: { webhookUrl: string } }[] };
    expect(audit.items[0]?.after.webhookUrl).toBe("https://hooks.example.com/…");
    expect(JSON.stringify(audit.items)).not.toContain("secret-token");
  });

  it("when the webhook is plain http to a public host, then 400 naming body.webhookUrl", async () => {
    const res = await putAlertSettings({ enabled: true, webhookUrl: "http://hooks.example.com/alerts" });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/application\/problem\+json/);
    const problem = (await res.json()) as Problem;
    expect(problem.type).toMatch(/\/validation$/);
    expect(problem.errors).toEqual([{ path: "body.webhookUrl", message: expect.stringMatching(/https/) as unknown }]);
  });

  it("when alerts are enabled without a webhook or with a threshold out of range, then 400 naming the field", async () => {
    const noUrl = (await (await putAlertSettings({ enabled: true })).json()) as Problem;
    expect(noUrl.errors?.map((e) => e.path)).toEqual(["body.webhookUrl"]);
    const badShare = (await (await putAlertSettings({ enabled: false, lowStock: { percent: 150 } })).json()) as Problem;
    expect(badShare.errors?.map((e) => e.path)).toEqual(["body.lowStock.percent"]);
  });

  it("when written without If-Match, with a stale one, or by a License Administrator, then 428, 412 and 403", async () => {
    const body = { enabled: false, webhookUrl: null };
    expect((await putAlertSettings(body, { ifMatch: null })).status).toBe(428);
    expect((await putAlertSettings(body, { ifMatch: '"stale"' })).status).toBe(412);
    expect((await putAlertSettings(body, { roles: ["License Administrator"] })).status).toBe(403);
  });
});

describe("L18 low-stock alerts", () => {
  it("when an assignment drives a product below its threshold, then the webhook gets exactly one alert for it, also after further assignments", async () => {
    const sku = DEMO_SKUS.powerAutomatePerUser;
    await enableAlerts(hook.url, {}); // no threshold yet: nothing is low
    const before = await settleProduct(sku, 1);
    const count = before.available; // low as soon as one more license is assigned
    await enableAlerts(hook.url, { count });
    // The refresh raises alerts for products already below the threshold; they are not this test's concern.
    const alreadyLow = (await freshProducts()).filter((p) => p.total > 0 && p.available < count && p.kind !== "selfService").map((p) => p.skuId);
    await eventually(
      () => alertsOf("&type=low-stock"),
      (items) => alreadyLow.every((id) => items.some((a) => a.product?.skuId === id && a.state === "open")) && items.every((a) => a.delivery.status !== "pending"),
    );
    const baseline = hook.received.length;

    const [u1, u2] = [demoUserId(151), demoUserId(152)];
    expect((await assignProduct(sku, [u1])).status).toBe(200);
    await hook.waitFor((got) => got.slice(baseline).some(forSku(sku)));
    expect((await assignProduct(sku, [u2])).status).toBe(200); // still low: no second alert
    await new Promise((r) => setTimeout(r, 3000)); // time for a wrong second alert to arrive

    const sent = hook.received.slice(baseline);
    expect(sent).toHaveLength(1);
    const alert = sent[0] as ReceivedAlert;
    expect(alert.body).toMatchObject({
      type: "low-stock", tenantId: s.tenantId, product: { skuId: sku }, figures: { total: before.total, available: count - 1, threshold: { count } }, failure: null,
    });
    expect(alert.headers["idempotency-key"]).toBe(alert.body.id);
    expect(alert.headers["content-type"]).toMatch(/application\/json/);

    const recorded = (await alertsOf("&type=low-stock")).filter((a) => a.product?.skuId === sku && a.state === "open");
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ id: alert.body.id, delivery: { status: "delivered", attempts: 1, lastError: null } });
  });

  it("when the product recovers, then its alert is resolved, and dropping below again raises a new one", async () => {
    const sku = DEMO_SKUS.powerAutomatePerUser;
    await enableAlerts(hook.url, {});
    const before = await settleProduct(sku, 1);
    await enableAlerts(hook.url, { count: before.available });
    const user = demoUserId(153);
    const baseline = hook.received.length;
    expect((await assignProduct(sku, [user])).status).toBe(200);
    const [first] = (await hook.waitFor((got) => got.slice(baseline).some(forSku(sku)))).slice(baseline).filter(forSku(sku));

    const removed = await s.api(`users/${user}/assignLicense`, { method: "POST", body: { removeLicenses: [sku] } });
    expect(removed.status).toBe(200);
    const resolved = await eventually(() => alertsOf("&type=low-stock"), (items) => items.some((a) => a.id === first?.body.id && a.state === "resolved"));
    expect(resolved.find((a) => a.id === first?.body.id)?.resolvedAt).toEqual(expect.any(String));

    expect((await assignProduct(sku, [user])).status).toBe(200);
    const again = (await hook.waitFor((got) => got.slice(baseline).filter(forSku(sku)).length === 2)).slice(baseline).filter(forSku(sku));
    expect(new Set(again.map((a) => a.body.id)).size).toBe(2);
  });

  it("when the webhook is down, then the admin's request still succeeds, and the alert is kept and delivered on a retry", async () => {
    const down = await startReceiver((_body, seenBefore) => (seenBefore === 0 ? 503 : 204));
    try {
      const sku = DEMO_SKUS.teamsPhone;
      await enableAlerts(down.url, {});
      const before = await settleProduct(sku, 1);
      await enableAlerts(down.url, { count: before.available });

      const res = await assignProduct(sku, [demoUserId(154)]);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { results: { outcome: string }[] }).results[0]?.outcome).toBe("succeeded");

      const [refused] = (await down.waitFor((got) => got.some(forSku(sku)))).filter(forSku(sku));
      expect(refused?.status).toBe(503);
      const pending = await eventually(
        () => alertsOf("&type=low-stock"),
        (items) => items.some((a) => a.id === refused?.body.id && a.delivery.attempts === 1),
      );
      expect(pending.find((a) => a.id === refused?.body.id)?.delivery).toMatchObject({ status: "pending", lastError: expect.stringMatching(/503/) as unknown });

      const attempts = (await down.waitFor((got) => got.some((r) => forSku(sku)(r) && r.status === 204))).filter(forSku(sku));
      expect(attempts.map((a) => [a.body.id, a.status])).toEqual([[refused?.body.id, 503], [refused?.body.id, 204]]);
      expect(attempts[1]?.headers["idempotency-key"]).toBe(refused?.body.id);
      const delivered = await eventually(() => alertsOf("&status=delivered"), (items) => items.some((a) => a.id === refused?.body.id));
      expect(delivered.find((a) => a.id === refused?.body.id)?.delivery).toMatchObject({ attempts: 2, deliveredAt: expect.any(String) as unknown });
    } finally {
      await down.close();
    }
  });
});

describe("L18 licensing-failure alerts", () => {
  it("when an assignment is refused for lack of licenses, then one alert is sent and repeats within the hour are only counted", async () => {
    const sku = DEMO_SKUS.powerAutomatePremium;
    await enableAlerts(hook.url, {});
    await freshProducts();
    const users = Array.from({ length: 20 }, (_, i) => demoUserId(160 + i)).filter((_, i) => (160 + i) % 25 !== 0);
    const baseline = hook.received.length;
    const failure = forSku(sku, "licensing-failure");

    expect((await assignProduct(sku, users)).status).toBe(422);
    const [sent] = (await hook.waitFor((got) => got.slice(baseline).some(failure))).slice(baseline).filter(failure);
    expect(sent?.body.failure).toMatchObject({ code: "not-enough-licenses", occurrences: 1 });
    expect((await assignProduct(sku, users)).status).toBe(422);

    const counted = await eventually(() => alertsOf("&type=licensing-failure"), (items) => items.some((a) => a.id === sent?.body.id && a.failure?.occurrences === 2));
    expect(counted.find((a) => a.id === sent?.body.id)).toMatchObject({ failure: { source: "license-administration", userIds: users.map((u) => u.toLowerCase()) } });
    expect(hook.received.slice(baseline).filter(failure)).toHaveLength(1);
  });

  it("when the same failure repeats for other users within the hour, then the one alert names them too (each once), not only the first occurrence's", async () => {
    const sku = DEMO_SKUS.powerBiPremiumPerUser; // no other test raises an alert for it
    await enableAlerts(hook.url, {});
    const [first, second] = [demoUserId(181), demoUserId(182)];
    await s.sim("PATCH", `skus/${sku}`, { prepaidUnits: { enabled: 0, warning: 0 } });
    await freshProducts();
    const baseline = hook.received.length;
    const failure = forSku(sku, "licensing-failure");
    expect((await assignProduct(sku, [first])).status).toBe(422);
    const [sent] = (await hook.waitFor((got) => got.slice(baseline).some(failure))).slice(baseline).filter(failure);
    expect(sent?.body.failure?.userIds).toEqual([first.toLowerCase()]);
    expect((await assignProduct(sku, [second])).status).toBe(422);
    expect((await assignProduct(sku, [first])).status).toBe(422);
    const counted = await eventually(() => alertsOf("&type=licensing-failure"), (items) => items.some((a) => a.id === sent?.body.id && a.failure?.occurrences === 3));
    expect(counted.find((a) => a.id === sent?.body.id)?.failure?.userIds).toEqual([first.toLowerCase(), second.toLowerCase()]);
  });

  it("when a user read for a change has a group-based license in error, then a group-licensing alert names the group", async () => {
    await enableAlerts(hook.url, {});
    const user = demoUserId(101);
    await s.sim("PUT", `users/${user}/licenses`, {
      licenses: [{ skuId: DEMO_SKUS.powerAppsPerUser, assignedByGroup: DEMO_IDS.groups.powerAppsLicensing, state: "Error", error: "CountViolation" }],
    });
    const baseline = hook.received.length;
    expect((await assignProduct(DEMO_SKUS.powerAutomateFree, [user])).status).toBe(200);
    const [sent] = (await hook.waitFor((got) => got.slice(baseline).some(forSku(DEMO_SKUS.powerAppsPerUser, "licensing-failure"))))
      .slice(baseline)
      .filter(forSku(DEMO_SKUS.powerAppsPerUser, "licensing-failure"));
    expect(sent?.body.failure).toMatchObject({ code: "group-licensing-error", source: "group-licensing", groupId: DEMO_IDS.groups.powerAppsLicensing.toLowerCase() });
  });

  it("when group-based licensing errors exist, then the scan timer raises one alert per group and product, naming the group and its users - no license change needed", async () => {
    await enableAlerts(hook.url, {});
    // A group of this test's own (alerts are kept one a day per group and product for the whole file).
    const groupId = "5ca11e70-0000-4000-8000-000000000001";
    const users = [demoUserId(131), demoUserId(132)];
    await s.sim("POST", "groups", { id: groupId, displayName: "Scan group", members: users, assignedLicenses: [{ skuId: DEMO_SKUS.powerAutomatePerUser, disabledPlans: [] }] });
    for (const user of users) {
      await s.sim("PUT", `users/${user}/licenses`, { licenses: [{ skuId: DEMO_SKUS.powerAutomatePerUser, assignedByGroup: groupId, state: "Error", error: "CountViolation" }] });
    }
    const baseline = hook.received.length;
    const ours = (a: ReceivedAlert) => a.body.type === "licensing-failure" && a.body.failure?.groupId === groupId;
    const run = await fetch(`${s.stack.hostUrl}/admin/functions/group-licensing-check-timer`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(run.status).toBe(202);
    const sent = (await hook.waitFor((got) => got.slice(baseline).some(ours))).slice(baseline).filter(ours);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.body.failure).toMatchObject({ source: "group-licensing", code: "group-licensing-error" });
    expect([...(sent[0]?.body.failure?.userIds ?? [])].sort()).toEqual(users.map((u) => u.toLowerCase()).sort());
    expect(sent[0]?.body.failure?.message).toMatch(/"Scan group".*CountViolation/);
  });

  it("when alerts are switched off, then a failure records and sends nothing", async () => {
    const sku = DEMO_SKUS.teamsPhone;
    const off = await putAlertSettings({ enabled: false, webhookUrl: hook.url });
    expect(off.status).toBe(200);
    await freshProducts();
    const users = Array.from({ length: 20 }, (_, i) => demoUserId(180 + i)).filter((_, i) => (180 + i) % 25 !== 0);
    expect((await assignProduct(sku, users)).status).toBe(422);
    await new Promise((r) => setTimeout(r, 2000)); // time for a wrong alert to be recorded
    expect((await alertsOf("&type=licensing-failure")).filter((a) => a.product?.skuId === sku)).toEqual([]);
  });
});

describe("L18 alert list", () => {
  it("when listed a page at a time, then the cursor continues the list and is refused for another filter", async () => {
    const all = await alertsOf();
    expect(all.length).toBeGreaterThanOrEqual(2);
    const first = (await (await s.api("alerts?limit=1")).json()) as { items: AlertView[]; nextCursor: string | null };
    expect(first.items.map((a) => a.id)).toEqual([all[0]?.id]);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = (await (await s.api(`alerts?limit=1&cursor=${encodeURIComponent(first.nextCursor ?? "")}`)).json()) as { items: AlertView[] };
    expect(second.items.map((a) => a.id)).toEqual([all[1]?.id]);
    const other = await s.api(`alerts?limit=1&type=low-stock&cursor=${encodeURIComponent(first.nextCursor ?? "")}`);
    expect(other.status).toBe(400);
  });

  it("when filtered by state, then each item's state is the one asked for, the two lists split the whole list, and a failure's window decides (an hour; a day for a group's)", async () => {
    const hours = (h: number) => new Date(Date.now() - h * 3600_000).toISOString();
    const planted = (id: string, occurredAt: string, groupId: string | null) => ({
      id, tenantId: s.tenantId, docType: "alert", type: "licensing-failure", occurredAt, state: "open", resolvedAt: null, product: null, figures: null,
      failure: { source: "test", code: "CountViolation", message: "planted", userIds: [], occurrences: 1, lastOccurredAt: occurredAt, groupId },
      delivery: { status: "skipped", attempts: 0, lastAttemptAt: null, deliveredAt: null, lastError: null },
    });
    const alerts = s.stack.database.container("alerts");
    const [pastHour, groupWithinDay, groupPastDay] = [`planted-${Date.now()}-a`, `planted-${Date.now()}-b`, `planted-${Date.now()}-c`];
    await alerts.items.upsert(planted(pastHour, hours(2), null));
    await alerts.items.upsert(planted(groupWithinDay, hours(2), DEMO_IDS.groups.sales));
    await alerts.items.upsert(planted(groupPastDay, hours(25), DEMO_IDS.groups.sales));

    const [all, open, resolved] = await Promise.all([alertsOf(), alertsOf("&state=open"), alertsOf("&state=resolved")]);

    expect(open.every((a) => a.state === "open")).toBe(true);
    expect(resolved.every((a) => a.state === "resolved")).toBe(true);
    expect([...open, ...resolved].map((a) => a.id).sort()).toEqual(all.map((a) => a.id).sort());
    expect(open.map((a) => a.id)).toContain(groupWithinDay);
    expect(resolved.map((a) => a.id)).toEqual(expect.arrayContaining([pastHour, groupPastDay]));
    // A page at a time: the cursor continues the filtered list.
    const first = (await (await s.api("alerts?limit=1&state=resolved")).json()) as { items: AlertView[]; nextCursor: string | null };
    const second = (await (await s.api(`alerts?limit=1&state=resolved&cursor=${encodeURIComponent(first.nextCursor ?? "")}`)).json()) as { items: AlertView[] };
    expect([...first.items, ...second.items].map((a) => a.id)).toEqual(resolved.slice(0, 2).map((a) => a.id));
    expect((await s.api("alerts?state=closed")).status).toBe(400);
  });

  it("when read with a Global Reader's token, then 200; without a token, 401", async () => {
    expect((await s.api("alerts", { roles: ["Global Reader"] })).status).toBe(200);
    expect((await s.stack.call(`/api/tenants/${s.tenantId}/alerts`)).status).toBe(401);
  });
});
