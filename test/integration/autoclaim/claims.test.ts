import { randomUUID } from "node:crypto";
import { QueueClient } from "@azure/storage-queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_IDS, DEMO_PLANS, DEMO_SIGNIN_APPS, DEMO_SKUS } from "../../../local/sim-cloud/demo-tenant.js";
import { KNOWN_APPS } from "../../../shared/autoclaim/apps.js";
import { EVENTS_QUEUE } from "../../../shared/events/queues.js";
import { newEnvelope, nextAttempt } from "../../../shared/queue/envelope.js";
import { encodeQueueMessage } from "../../../shared/queue/storage-queue-sender.js";
import { startReceiver, type WebhookReceiver } from "../alerts/receiver.js";
import { BI_SKUS, signInEvent, startAutoClaimStack, TENANT, type AutoClaimStack } from "./support.js";

let s: AutoClaimStack;
let queue: QueueClient;
let hook: WebhookReceiver;
beforeAll(async () => {
  [s, hook] = await Promise.all([startAutoClaimStack(), startReceiver()]);
  queue = new QueueClient(s.stack.storageConnectionString, EVENTS_QUEUE);
  await s.setSetting("auto-claim", { enabled: true });
});
afterAll(async () => {
  await Promise.all([s?.stop(), hook?.close()]);
});

const { primary: PRIMARY, backup: BACKUP, third: THIRD } = BI_SKUS;

/**
 * A fresh policy for Power BI (it claims at sign-in), replacing the one an earlier test left (one
 * policy per app), so tests do not meet each other's policies; each test's users are its own.
 */
async function policyFor(products: string[], extra: Record<string, unknown> = {}) {
  const appId = KNOWN_APPS.powerBi.appId;
  const policy = await s.freshPolicy({ name: `policy ${randomUUID().slice(0, 8)}`, appId, products: products.map((skuId) => ({ skuId })), ...extra });
  return { appId, policy };
}

async function assignCalls(): Promise<number> {
  const c = (await s.sim("/counters")) as { graph: { byKind: Record<string, number>; batchItemsByKind: Record<string, number> } };
  return (c.graph.byKind["users.assignLicense"] ?? 0) + (c.graph.batchItemsByKind["users.assignLicense"] ?? 0);
}

async function claimEvent(userId: string, appId: string) {
  const event = signInEvent(userId, appId);
  expect((await s.postEvent(event)).status).toBe(202);
  return s.waitForEvent(String(event.eventId));
}

describe("the claim processor", () => {
  it("when a member signs in to an app with an enabled policy, then the primary product is claimed, recorded and audited with the event and caller", async () => {
    await s.setAvailable(PRIMARY, 10);
    const { appId, policy } = await policyFor([PRIMARY, BACKUP]);
    const [user] = await s.addUsers(1);
    const event = await claimEvent(user!, appId);
    expect(event).toMatchObject({ status: "claimed", claim: { policyId: policy.id, skuId: PRIMARY, skuPartNumber: "PBI_PREMIUM_PER_USER" } });
    expect(await s.userLicenses(user!)).toContain(PRIMARY);
    const { resources } = await s.stack.database
      .container("audit")
      .items.query<{ context: { autoClaim?: { eventId: string; caller: string }[] } }>({
        query: "SELECT c.context FROM c WHERE c.tenantId = @t AND c.action = 'license.change' AND c.phase = 'outcome' AND ARRAY_CONTAINS(c.context.userIds, @u)",
        parameters: [{ name: "@t", value: TENANT }, { name: "@u", value: user! }],
      })
      .fetchAll();
    expect(resources[0]?.context.autoClaim?.[0]).toMatchObject({ eventId: event.id, caller: expect.any(String) });
  });

  it("when the user already holds a product that covers the app (A8, A9), then nothing is claimed; a product that only seems to (the flow plan of Power Apps Premium) does not count", async () => {
    const FLOW = DEMO_SKUS.powerAutomatePerUser;
    await s.setAvailable(FLOW, 10);
    const appId = DEMO_SIGNIN_APPS.powerAutomate.appId;
    await s.createPolicy({ name: "Power Automate", appId, products: [{ skuId: FLOW }] });
    const [premium, powerApps, disabledPlan] = await s.addUsers(3);
    await s.sim(`/users/${premium!}/licenses`, { method: "PUT", body: { licenses: [{ skuId: DEMO_SKUS.powerAutomatePremium, disabledPlans: [] }] } });
    await s.sim(`/users/${powerApps!}/licenses`, { method: "PUT", body: { licenses: [{ skuId: DEMO_SKUS.powerAppsPerUser, disabledPlans: [] }] } });
    await s.sim(`/users/${disabledPlan!}/licenses`, { method: "PUT", body: { licenses: [{ skuId: DEMO_SKUS.powerAutomatePremium, disabledPlans: [DEMO_PLANS.attendedRpa] }] } });
    const flowRun = async (userId: string) => {
      const event = signInEvent(userId, appId, { trigger: "premium-flow-run" });
      expect((await s.postEvent(event)).status).toBe(202);
      return s.waitForEvent(String(event.eventId));
    };

    expect(await flowRun(premium!)).toMatchObject({ status: "skipped", code: "already-licensed", reason: expect.stringContaining("POWERAUTOMATE_ATTENDED_RPA") });
    expect(await s.userLicenses(premium!)).not.toContain(FLOW);
    expect(await flowRun(powerApps!)).toMatchObject({ status: "claimed", claim: { skuId: FLOW } });
    expect(await flowRun(disabledPlan!)).toMatchObject({ status: "claimed", claim: { skuId: FLOW } });
    // A user holding the policy's own product: the reason names it by part number too, not by its id alone.
    expect(await flowRun(disabledPlan!)).toMatchObject({ status: "skipped", code: "already-licensed", reason: expect.stringContaining("FLOW_PER_USER (") as string });
  });

  it("when the user holds the policy's product with the app's plan switched off, then it is not 'already licensed': a backup of the policy is claimed, or, with none, the event fails saying which plan is off (A8)", async () => {
    const FLOW = DEMO_SKUS.powerAutomatePerUser;
    const PREMIUM = DEMO_SKUS.powerAutomatePremium;
    await Promise.all([s.setAvailable(FLOW, 10), s.setAvailable(PREMIUM, 10)]);
    const appId = DEMO_SIGNIN_APPS.powerAutomate.appId;
    const [alone, withBackup] = await s.addUsers(2);
    for (const u of [alone!, withBackup!]) {
      await s.sim(`/users/${u}/licenses`, { method: "PUT", body: { licenses: [{ skuId: FLOW, disabledPlans: [DEMO_PLANS.flowPerUser] }] } });
    }
    const flowRun = async (userId: string) => {
      const event = signInEvent(userId, appId, { trigger: "premium-flow-run" });
      expect((await s.postEvent(event)).status).toBe(202);
      return s.waitForEvent(String(event.eventId));
    };

    await s.freshPolicy({ name: `flow ${randomUUID().slice(0, 8)}`, appId, products: [{ skuId: FLOW }] });
    expect(await flowRun(alone!)).toMatchObject({ status: "failed", code: "app-plan-disabled", reason: expect.stringContaining("FLOW_PER_USER (") as string });
    const held = await s.userLicenses(alone!);
    expect(held).toContain(FLOW);
    expect(held).not.toContain(PREMIUM);

    await s.freshPolicy({ name: `flow ${randomUUID().slice(0, 8)}`, appId, products: [{ skuId: FLOW }, { skuId: PREMIUM }] });
    expect(await flowRun(withBackup!)).toMatchObject({ status: "claimed", claim: { skuId: PREMIUM } });
    expect(await s.userLicenses(withBackup!)).toEqual(expect.arrayContaining([FLOW, PREMIUM]));
  });

  it("when a guest or a disabled user signs in, then they never get a claim", async () => {
    const { appId } = await policyFor([PRIMARY]);
    const [disabled] = await s.addUsers(1, { accountEnabled: false });
    const [guest] = await s.addUsers(1, { userType: "Guest" });
    expect(await claimEvent(guest!, appId)).toMatchObject({ status: "skipped", code: "guest-user" });
    expect(await claimEvent(disabled!, appId)).toMatchObject({ status: "skipped", code: "account-disabled" });
    expect(await claimEvent(DEMO_IDS.users.guest, appId)).toMatchObject({ status: "skipped", code: "guest-user" });
    expect(await s.userLicenses(guest!)).toEqual([]);
    expect(await s.userLicenses(disabled!)).toEqual([]);
  });

  it("when the feature is switched off, then no claims are made and existing claims stay; on again, claims resume", async () => {
    await s.setAvailable(PRIMARY, 10);
    const { appId } = await policyFor([PRIMARY]);
    const [before, during] = await s.addUsers(2);
    expect(await claimEvent(before!, appId)).toMatchObject({ status: "claimed" });
    await s.setSetting("auto-claim", { enabled: false });
    try {
      expect(await claimEvent(during!, appId)).toMatchObject({ status: "skipped", code: "auto-claim-off" });
      expect(await s.userLicenses(during!)).toEqual([]);
      expect(await s.userLicenses(before!)).toContain(PRIMARY);
    } finally {
      await s.setSetting("auto-claim", { enabled: true });
    }
    expect(await claimEvent(during!, appId)).toMatchObject({ status: "claimed" });
  });

  it("when automation is paused, then events wait (nothing is claimed) and are processed after resume", async () => {
    await s.setAvailable(PRIMARY, 10);
    const { appId } = await policyFor([PRIMARY]);
    const [user] = await s.addUsers(1);
    await s.setSetting("automation", { paused: true });
    const event = signInEvent(user!, appId);
    try {
      expect((await s.postEvent(event)).status).toBe(202);
      expect(await s.waitForEvent(String(event.eventId), ["waiting"])).toMatchObject({ status: "waiting", code: "automation-paused" });
      expect(await s.userLicenses(user!)).toEqual([]);
    } finally {
      await s.setSetting("automation", { paused: false });
    }
    expect(await s.waitForEvent(String(event.eventId))).toMatchObject({ status: "claimed" });
  });

  it("when the primary product has no license left, then the first backup with licenses is used; when all are exhausted, the event fails with no-license-available, shows in the report and is not retried", async () => {
    await s.setAvailable(PRIMARY, 0);
    await s.setAvailable(BACKUP, 5);
    await s.setAvailable(THIRD, 5);
    const { appId } = await policyFor([PRIMARY, BACKUP, THIRD]);
    const [first, a, b] = await s.addUsers(3);
    // In order: the first backup while it has licenses, then the next.
    expect(await claimEvent(first!, appId)).toMatchObject({ status: "claimed", claim: { skuId: BACKUP } });
    await s.setAvailable(BACKUP, 0);
    expect(await claimEvent(a!, appId)).toMatchObject({ status: "claimed", claim: { skuId: THIRD } });
    await s.setAvailable(THIRD, 0);
    const failed = await claimEvent(b!, appId);
    expect(failed).toMatchObject({ status: "failed", code: "no-license-available" });
    expect(await s.userLicenses(b!)).toEqual([]);
    const report = (await (await s.stack.call(`/api/tenants/${TENANT}/auto-claim-policies/report?days=1`, { token: s.admin })).json()) as {
      failed: { events: { eventId: string; code: string }[]; byReason: { code: string; count: number }[] };
    };
    expect(report.failed.events).toEqual(expect.arrayContaining([expect.objectContaining({ eventId: failed.id, code: "no-license-available" })]));
    // E: the failed event is in the audit trail, with its caller (written beside the outcome: looked for until it shows).
    const auditOf = async () =>
      ((await (await s.stack.call(`/api/tenants/${TENANT}/audit?userId=${b!}`, { token: s.admin })).json()) as { items: { action: string; actor: unknown; context?: Record<string, unknown> }[] }).items
        .find((r) => r.action === "sign-in-event.failed");
    const until = Date.now() + 30_000;
    let recorded = await auditOf();
    while (!recorded && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 200));
      recorded = await auditOf();
    }
    // The same actor, with its name, as the claims' license changes.
    expect(recorded).toMatchObject({ actor: { type: "system", id: "auto-claim", name: "Auto-claim policies" }, context: { eventId: failed.id, source: "E3", caller: expect.any(String) as string } });
    // An admin looking into what a relay caused finds, by its id, the claims made for its events and the events that failed.
    const caller = String(recorded?.context?.caller);
    const byCaller = ((await (await s.stack.call(`/api/tenants/${TENANT}/audit?actor=${caller}&limit=200`, { token: s.admin })).json()) as {
      items: { action: string; context?: Record<string, unknown> }[];
    }).items;
    expect(byCaller.some((r) => r.action === "sign-in-event.failed" && r.context?.eventId === failed.id)).toBe(true);
    expect(byCaller.some((r) => r.action === "license.change" && (r.context?.userIds as string[] | undefined)?.includes(first!.toLowerCase()))).toBe(true);
    const failures = await s.stack.database
      .container("failures")
      .items.query({ query: "SELECT * FROM c WHERE c.envelope.id = @id", parameters: [{ name: "@id", value: String(failed.id) }] })
      .fetchAll();
    expect(failures.resources).toEqual([]);
  });

  it("when licenses are bought after the counters found every product empty, then the next claim gets one at once (the counters are brought in line with Graph before a claim fails), not after the next reconciliation", async () => {
    await s.setAvailable(PRIMARY, 0);
    await s.setAvailable(BACKUP, 0);
    const { appId } = await policyFor([PRIMARY, BACKUP]);
    const [first, second] = await s.addUsers(2);
    expect(await claimEvent(first!, appId)).toMatchObject({ status: "failed", code: "no-license-available" });
    // An admin buys 3 more of the backup in the admin center: Graph knows, our counters (still there) do not.
    const summary = (await s.sim("/summary")) as { skus: { skuId: string; consumedUnits: number }[] };
    const consumed = summary.skus.find((x) => x.skuId === BACKUP)?.consumedUnits ?? 0;
    await s.sim(`/skus/${BACKUP}`, { method: "PATCH", body: { prepaidUnits: { enabled: consumed + 3, warning: 0 } } });
    expect(await claimEvent(second!, appId)).toMatchObject({ status: "claimed", claim: { skuId: BACKUP } });
    expect(await s.userLicenses(second!)).toContain(BACKUP.toLowerCase());
  });

  it("when licenses of the primary are bought after its counters found it empty, then the next claim gets the primary (its counters are brought in line with Graph before a backup is used), not the backup", async () => {
    await s.setAvailable(PRIMARY, 0);
    await s.setAvailable(BACKUP, 10);
    const { appId } = await policyFor([PRIMARY, BACKUP]);
    const [first, second] = await s.addUsers(2);
    expect(await claimEvent(first!, appId)).toMatchObject({ status: "claimed", claim: { skuId: BACKUP } });
    // An admin buys 2 of the primary in the admin center: Graph knows, our counters (still there, at 0) do not.
    const summary = (await s.sim("/summary")) as { skus: { skuId: string; consumedUnits: number }[] };
    const consumed = summary.skus.find((x) => x.skuId === PRIMARY)?.consumedUnits ?? 0;
    await s.sim(`/skus/${PRIMARY}`, { method: "PATCH", body: { prepaidUnits: { enabled: consumed + 2, warning: 0 } } });
    expect(await claimEvent(second!, appId)).toMatchObject({ status: "claimed", claim: { skuId: PRIMARY } });
    expect(await s.userLicenses(second!)).toEqual([PRIMARY.toLowerCase()]);
  });

  it("when a claim fails for lack of licenses and alerts are on, then the tenant's webhook gets a licensing-failure alert naming the policy's primary product and the user (L18)", async () => {
    await s.setSetting("alerts", { enabled: true, webhookUrl: hook.url });
    try {
      await s.setAvailable(PRIMARY, 0);
      await s.setAvailable(BACKUP, 0);
      const { appId } = await policyFor([PRIMARY, BACKUP]);
      const [user] = await s.addUsers(1);
      expect(await claimEvent(user!, appId)).toMatchObject({ status: "failed", code: "no-license-available" });
      const isOurs = (a: { body: { type: string; product: { skuId: string } | null; failure: { code: string } | null } }) =>
        a.body.type === "licensing-failure" && a.body.failure?.code === "no-license-available" && a.body.product?.skuId === PRIMARY.toLowerCase();
      const [sent] = (await hook.waitFor((got) => got.some(isOurs))).filter(isOurs);
      expect(sent?.body).toMatchObject({ tenantId: TENANT, failure: { source: "auto-claim", userIds: [user!.toLowerCase()] } });
      // The product named as license administration's alerts name it, not by id alone.
      expect(sent?.body.product).toMatchObject({ skuPartNumber: expect.any(String) as string, displayName: expect.any(String) as string });
    } finally {
      await s.setSetting("alerts", { enabled: false });
    }
  });

  it("when a product is removed from the policy or the policy is disabled, then no license is taken away, and a disabled policy claims nothing", async () => {
    await s.setAvailable(PRIMARY, 10);
    const { appId, policy } = await policyFor([PRIMARY, BACKUP]);
    const [user, later] = await s.addUsers(2);
    expect(await claimEvent(user!, appId)).toMatchObject({ status: "claimed", claim: { skuId: PRIMARY } });
    const url = `/api/tenants/${TENANT}/auto-claim-policies/${policy.id}`;
    const patched = await s.stack.call(url, { method: "PATCH", token: s.admin, headers: { "If-Match": policy.etag }, body: JSON.stringify({ products: [{ skuId: BACKUP }], enabled: false }) });
    expect(patched.status).toBe(200);
    expect(await s.userLicenses(user!)).toContain(PRIMARY);
    expect(await claimEvent(later!, appId)).toMatchObject({ status: "skipped", code: "policy-disabled" });
    expect(await s.userLicenses(later!)).toEqual([]);
  });

  it("when one event is delivered 5 times, then the license is assigned once", async () => {
    await s.setAvailable(PRIMARY, 10);
    const { appId } = await policyFor([PRIMARY]);
    const [user] = await s.addUsers(1);
    const event = signInEvent(user!, appId);
    const before = await assignCalls();
    expect((await s.postEvent(event)).status).toBe(202);
    const envelope = newEnvelope({
      kind: "sign-in-event",
      tenantId: TENANT,
      id: String(event.eventId),
      body: { event, source: "E3", caller: { id: "redelivery", kind: "relay" }, receivedAt: new Date().toISOString() },
    });
    await Promise.all(Array.from({ length: 4 }, () => queue.sendMessage(encodeQueueMessage(envelope))));
    expect(await s.waitForEvent(String(event.eventId))).toMatchObject({ status: "claimed" });
    // Let every delivery finish: a final marker event on another user is processed after them.
    await s.waitForEvent(String((await postAndId(signInEvent((await s.addUsers(1))[0]!, randomUUID())))));
    expect((await assignCalls()) - before).toBe(1);
    expect(await s.getEvent(String(event.eventId))).toMatchObject({ status: "claimed" });
  });

  it("when a processed event is delivered again (a producer re-sent it while it was queued), then its record keeps what the first processing did", async () => {
    const app = DEMO_SIGNIN_APPS.powerAutomate.appId; // L12: its free tracking plan is assigned at first sign-in
    const [user] = await s.addUsers(1);
    const event = signInEvent(user!, app);
    expect((await s.postEvent(event)).status).toBe(202);
    expect(await s.waitForEvent(String(event.eventId))).toMatchObject({ trackingPlan: { outcome: "assigned" } });
    const envelope = newEnvelope({
      kind: "sign-in-event",
      tenantId: TENANT,
      id: String(event.eventId),
      body: { event, source: "E3", caller: { id: "relay", kind: "relay" }, receivedAt: new Date().toISOString() },
    });
    await queue.sendMessage(encodeQueueMessage(envelope));
    // Let the delivery finish: a marker event sent after it is processed.
    await s.waitForEvent(String(await postAndId(signInEvent((await s.addUsers(1))[0]!, randomUUID()))));
    expect(await s.getEvent(String(event.eventId))).toMatchObject({ trackingPlan: { outcome: "assigned" } });
  });

  it("when an event comes again after Graph assigned its license but before that was recorded, then it is claimed and its claim settled; another event of the user is already-licensed", async () => {
    await s.setAvailable(PRIMARY, 10);
    const { appId, policy } = await policyFor([PRIMARY]);
    const [user] = await s.addUsers(1);
    const event = signInEvent(user!, appId);
    // What the failed delivery left: the license in Graph, its claim still pending.
    await s.sim(`/users/${user!}/licenses`, { method: "PUT", body: { licenses: [{ skuId: PRIMARY }] } });
    const now = new Date().toISOString();
    await s.stack.database.container("autoclaim").items.create({
      id: `claim:${appId}:${user!}`, type: "claim", tenantId: TENANT, appId, userId: user!, status: "pending", eventId: event.eventId, trigger: "sign-in",
      source: "E3", caller: { id: "relay", kind: "relay" }, policyId: policy.id, policyName: "p", skuId: PRIMARY, shard: 0, createdAt: now,
      expiresAt: new Date(Date.now() + 15 * 60_000).toISOString(),
    });
    const before = await assignCalls();
    expect(await claimEvent(user!, appId)).toMatchObject({ status: "skipped", code: "already-licensed" });
    // The event as ingestion stored it, and the retry its failed first attempt re-enqueued (attempt 2).
    const receivedAt = new Date().toISOString();
    const caller = { id: "relay", kind: "relay" as const };
    await s.stack.database.container("events").items.create({
      id: String(event.eventId), partitionKey: `${TENANT}|${String(event.eventId)}`, type: "sign-in-event", tenantId: TENANT, event, bodyHash: "h", source: "E3", caller,
      receivedAt, status: "queued", answer: 202, updatedAt: receivedAt,
    });
    const first = newEnvelope({ kind: "sign-in-event", tenantId: TENANT, id: String(event.eventId), body: { event, source: "E3", caller, receivedAt } });
    await queue.sendMessage(encodeQueueMessage(nextAttempt(first, "Cosmos unavailable", new Date())));
    expect(await s.waitForEvent(String(event.eventId))).toMatchObject({ status: "claimed", claim: { policyId: policy.id, skuId: PRIMARY } });
    const { resource: settled } = await s.stack.database.container("autoclaim").item(`claim:${appId}:${user!}`, TENANT).read<{ status: string }>();
    expect(settled?.status).toBe("claimed");
    expect((await assignCalls()) - before).toBe(0);
  });

  it("when 50 events for the same user and app arrive at once, then the license is assigned once", async () => {
    await s.setAvailable(PRIMARY, 10);
    const { appId } = await policyFor([PRIMARY]);
    const [user] = await s.addUsers(1);
    const before = await assignCalls();
    const events = Array.from({ length: 50 }, () => signInEvent(user!, appId));
    const answers = await Promise.all(events.map((e) => s.postEvent(e)));
    expect(answers.map((r) => r.status)).toEqual(events.map(() => 202));
    const outcomes = await Promise.all(events.map((e) => s.waitForEvent(String(e.eventId))));
    expect(outcomes.filter((o) => o.status === "claimed")).toHaveLength(1);
    expect(outcomes.filter((o) => o.status !== "claimed").every((o) => o.status === "skipped")).toBe(true);
    expect((await assignCalls()) - before).toBe(1);
  });

  it("when 200 users claim at once from a product with 50 available, then exactly 50 get it and the rest get the backup", async () => {
    await s.setAvailable(PRIMARY, 50);
    await s.setAvailable(BACKUP, 200);
    const { appId } = await policyFor([PRIMARY, BACKUP]);
    const users = await s.addUsers(200);
    const events = users.map((u) => signInEvent(u, appId));
    for (let i = 0; i < events.length; i += 50) {
      const answers = await Promise.all(events.slice(i, i + 50).map((e) => s.postEvent(e)));
      expect(answers.every((r) => r.status === 202)).toBe(true);
    }
    const outcomes = await Promise.all(events.map((e) => s.waitForEvent(String(e.eventId), undefined, 120_000)));
    const bySku = (sku: string) => outcomes.filter((o) => o.status === "claimed" && (o.claim as { skuId: string }).skuId === sku).length;
    expect(bySku(PRIMARY)).toBe(50);
    expect(bySku(BACKUP)).toBe(150);
    const summary = (await s.sim("/summary")) as { skus: { skuId: string; available: number }[] };
    expect(summary.skus.find((x) => x.skuId === PRIMARY)?.available).toBe(0);
    expect(summary.skus.find((x) => x.skuId === BACKUP)?.available).toBe(50);
  }, 180_000);

  it("when an event reports a first access to an environment, then it is handed to the Dataverse sync (D4) and claims nothing", async () => {
    const [user] = await s.addUsers(1);
    const event = signInEvent(user!, randomUUID(), { trigger: "first-access", environmentId: DEMO_IDS.environments.trial });
    expect((await s.postEvent(event)).status).toBe(202);
    expect(await s.waitForEvent(String(event.eventId))).toMatchObject({ status: "forwarded", firstAccess: "forwarded" });
    const until = Date.now() + 30_000;
    let handled: unknown[] = [];
    while (Date.now() < until && handled.length === 0) {
      handled = (
        await s.stack.database
          .container("audit")
          .items.query({ query: "SELECT c.id, c.context FROM c WHERE c.action = 'sync.first-access' AND c.target.id = @u", parameters: [{ name: "@u", value: user! }] })
          .fetchAll()
      ).resources;
      if (handled.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(handled).toHaveLength(1);
    // The record names the event it came with (several accesses of one user can be told apart).
    expect(handled[0]).toMatchObject({ context: { eventId: event.eventId } });
    // The event says what the sync did with it (here: nothing, the environment's sync is off), not only "forwarded".
    let shown = await s.getEvent(String(event.eventId));
    while (Date.now() < until && !shown?.firstAccessResult) {
      await new Promise((r) => setTimeout(r, 200));
      shown = await s.getEvent(String(event.eventId));
    }
    expect(shown).toMatchObject({ status: "forwarded", firstAccess: "forwarded", firstAccessResult: { outcome: "skipped", detail: expect.stringMatching(/sync is off/) as string } });
    const noEnvironment = await s.postEvent(signInEvent(user!, randomUUID(), { trigger: "first-access" }));
    expect(noEnvironment.status).toBe(400);
  });

  /** A Power Apps policy on Power Apps per user, and the Trial environment's sync on while `body` runs (then off, the simulator's faults and lag cleared). */
  async function withTrialSync(body: (appId: string) => Promise<void>): Promise<void> {
    const appId = KNOWN_APPS.powerApps.appId;
    await s.setAvailable(DEMO_SKUS.powerAppsPerUser, 5);
    await s.freshPolicy({ name: "Power Apps", appId, products: [{ skuId: DEMO_SKUS.powerAppsPerUser }] });
    const environment = `/api/tenants/${TENANT}/environments/${DEMO_IDS.environments.trial}`;
    const setSync = async (syncEnabled: boolean) => {
      const etag = (await s.stack.call(environment, { token: s.admin })).headers.get("etag") ?? "";
      const res = await s.stack.call(environment, { method: "PATCH", token: s.admin, headers: { "If-Match": etag }, body: JSON.stringify({ syncEnabled }) });
      expect(res.status, await res.clone().text()).toBe(200);
    };
    await setSync(true);
    try {
      await body(appId);
    } finally {
      await s.sim("/settings", { method: "PATCH", body: { faults: [], graph: { licenseReadLagMs: 0 } } });
      await setSync(false);
    }
  }

  /** The event once the sync has judged its first access (a `waiting` round is not the end). */
  async function firstAccessJudged(eventId: string, timeoutMs = 60_000) {
    const until = Date.now() + timeoutMs;
    const judged = (e: Awaited<ReturnType<typeof s.getEvent>>) => e?.firstAccessResult && (e.firstAccessResult as { outcome: string }).outcome !== "waiting";
    let shown = await s.getEvent(eventId);
    while (Date.now() < until && !judged(shown)) {
      await new Promise((r) => setTimeout(r, 200));
      shown = await s.getEvent(eventId);
    }
    return shown;
  }

  it("when an event with a claim to make reports a first access (a premium app launched in an environment), then the access is judged after the claim: the license just claimed lets the sync add the user at once (D4, A8)", async () => {
    await withTrialSync(async (appId) => {
      const [user] = await s.addUsers(1); // no license: only the claim makes them eligible (Power Apps per user includes Dataverse)
      // The assignment takes a while (throttled once, 2 s): time for a first access forwarded before it to be judged.
      await s.sim("/settings", { method: "PATCH", body: { faults: [{ services: ["graph"], pathPattern: `/users/${user}/assignLicense`, rate503: 1, retryAfterSeconds: 2, count: 1 }] } });
      const event = signInEvent(user!, appId, { trigger: "premium-app-launch", environmentId: DEMO_IDS.environments.trial });
      expect((await s.postEvent(event)).status).toBe(202);
      expect(await s.waitForEvent(String(event.eventId))).toMatchObject({ status: "claimed", firstAccess: "forwarded" });
      expect(await firstAccessJudged(String(event.eventId))).toMatchObject({ status: "claimed", firstAccessResult: { outcome: "applied", detail: "added" } });
    });
  });

  it("when Microsoft Graph's reads lag the claim's assignment (replication), then the first access waits until the license shows and the user is added (D4, A8)", async () => {
    await withTrialSync(async (appId) => {
      const [user] = await s.addUsers(1); // no license: only the claim makes them eligible
      // Reads of the user show the license 4 s after assignLicense answered.
      await s.sim("/settings", { method: "PATCH", body: { graph: { licenseReadLagMs: 4000 } } });
      const event = signInEvent(user!, appId, { trigger: "premium-app-launch", environmentId: DEMO_IDS.environments.trial });
      expect((await s.postEvent(event)).status).toBe(202);
      expect(await s.waitForEvent(String(event.eventId))).toMatchObject({ status: "claimed", firstAccess: "forwarded" });
      expect(await firstAccessJudged(String(event.eventId))).toMatchObject({ status: "claimed", firstAccessResult: { outcome: "applied", detail: "added" } });
    });
  }, 90_000);

  it("when a sign-in-event message has a body its schema refuses, then it is kept with its reason (A11)", async () => {
    const id = `bad-${randomUUID()}`;
    await queue.sendMessage(encodeQueueMessage(newEnvelope({ kind: "sign-in-event", tenantId: TENANT, id, body: { event: { eventId: id } } })));
    const until = Date.now() + 30_000;
    let found: { reason?: string }[] = [];
    while (Date.now() < until && found.length === 0) {
      found = (
        await s.stack.database.container("failures").items.query<{ reason: string }>({ query: "SELECT * FROM c WHERE c.envelope.id = @id", parameters: [{ name: "@id", value: id }] }).fetchAll()
      ).resources;
      if (found.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(found[0]?.reason).toMatch(/invalid message body/);
  });

  it("when a message of a kind no handler takes arrives for the tenant, then it is kept and the admin sees it in the report with its kind (A11)", async () => {
    const id = `odd-${randomUUID()}`;
    await queue.sendMessage(encodeQueueMessage(newEnvelope({ kind: "no-such-kind", tenantId: TENANT, id, body: {} })));
    type Report = { unprocessableMessages: { items: { id: string; kind: string; reason: string }[] } };
    const end = Date.now() + 30_000;
    let item: Report["unprocessableMessages"]["items"][number] | undefined;
    while (Date.now() < end && !item) {
      const report = (await (await s.stack.call(`/api/tenants/${TENANT}/auto-claim-policies/report?days=1`, { token: s.admin })).json()) as Report;
      item = report.unprocessableMessages.items.find((i) => i.id === `no-such-kind:${id}`);
      if (!item) await new Promise((r) => setTimeout(r, 200));
    }
    expect(item).toMatchObject({ kind: "no-such-kind", reason: expect.stringContaining("no-such-kind") as string });
  });
});

async function postAndId(event: Record<string, unknown>): Promise<string> {
  expect((await s.postEvent(event)).status).toBe(202);
  return String(event.eventId);
}
