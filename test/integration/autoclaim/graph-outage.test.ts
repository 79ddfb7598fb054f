import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KNOWN_APPS } from "../../../shared/autoclaim/apps.js";
import { BI_SKUS, graphFaultsInjected, signInEvent, startAutoClaimStack, TENANT, until, type AutoClaimStack } from "./support.js";

/**
 * A11: Graph outages. Each attempt first spends the Graph client's retry budget, then the queue
 * helper re-enqueues the message with a delay (5 s, 10 s, 20 s, ... up to QUEUE_MAX_ATTEMPTS). This
 * stack allows 3 attempts so that "a longer outage" fits in a test; production's 8 attempts span
 * 5+10+20+40+60+60+60 s of delays, past a 60 s outage (unit-tested in test/unit/autoclaim).
 */
let s: AutoClaimStack;
beforeAll(async () => {
  s = await startAutoClaimStack({ QUEUE_MAX_ATTEMPTS: "3" });
  await s.setSetting("auto-claim", { enabled: true });
  await s.setAvailable(BI_SKUS.primary, 10);
});
afterAll(async () => {
  await s?.stop();
});

/** The tests' app: it claims at sign-in; one policy per app, so each test replaces the last one's (`s.freshPolicy`). */
const POWER_BI = KNOWN_APPS.powerBi.appId;

const outage = (on: boolean) =>
  s.sim("/settings", { method: "PATCH", body: { faults: on ? [{ services: ["graph"], rate503: 1, retryAfterSeconds: 1 }] : [] } });



describe("claims through a Graph outage (A11)", () => {
  it("when Graph is down for a while, then the event is re-enqueued with a delay and claimed once Graph is back", async () => {
    const appId = POWER_BI;
    await s.freshPolicy({ name: "outage", appId, products: [{ skuId: BI_SKUS.primary }] });
    const [user] = await s.addUsers(1);
    const event = signInEvent(user!, appId);
    await outage(true);
    const faultsBefore = await graphFaultsInjected(s);
    try {
      expect((await s.postEvent(event)).status).toBe(202);
      // One attempt has failed for good once the client's retries (1 + 8) are spent; the message then waits its delay.
      await until(async () => (await graphFaultsInjected(s)) - faultsBefore >= 9, 60_000, "a failed attempt");
      expect(await s.getEvent(String(event.eventId))).toMatchObject({ status: "queued" });
    } finally {
      await outage(false);
    }
    expect(await s.waitForEvent(String(event.eventId), undefined, 60_000)).toMatchObject({ status: "claimed" });
    expect(await s.userLicenses(user!)).toContain(BI_SKUS.primary);
  }, 120_000);

  it("when Graph answers a server error (500) or a body of an unexpected shape, then the event is retried and claimed, not failed at once", async () => {
    const appId = POWER_BI;
    await s.freshPolicy({ name: "server errors", appId, products: [{ skuId: BI_SKUS.primary }] });
    for (const fault of [{ rate500: 1 }, { rateMalformed: 1 }]) {
      const [user] = await s.addUsers(1);
      const event = signInEvent(user!, appId);
      await s.sim("/settings", { method: "PATCH", body: { faults: [{ services: ["graph"], ...fault, count: 1 }] } });
      try {
        expect((await s.postEvent(event)).status).toBe(202);
        const done = await s.waitForEvent(String(event.eventId), undefined, 60_000);
        expect(done, JSON.stringify(done)).toMatchObject({ status: "claimed" });
      } finally {
        await outage(false);
      }
      expect(await s.userLicenses(user!)).toContain(BI_SKUS.primary);
    }
  }, 120_000);

  it("when Graph stays down past the last attempt, then the event fails visibly with its reason, in the event and the report", async () => {
    const appId = POWER_BI;
    await s.freshPolicy({ name: "long outage", appId, products: [{ skuId: BI_SKUS.primary }] });
    const [user] = await s.addUsers(1);
    const event = signInEvent(user!, appId);
    await outage(true);
    try {
      expect((await s.postEvent(event)).status).toBe(202);
      const failed = await s.waitForEvent(String(event.eventId), ["failed"], 150_000);
      expect(failed).toMatchObject({ status: "failed", code: "gave-up", reason: expect.stringMatching(/gave up after 3 attempts/) });
    } finally {
      await outage(false);
    }
    const report = (await (await s.stack.call(`/api/tenants/${TENANT}/auto-claim-policies/report?days=1`, { token: s.admin })).json()) as {
      failed: { events: { eventId: string }[] };
      unprocessableMessages: { items: { id: string; reason: string }[] };
    };
    expect(report.failed.events.map((e) => e.eventId)).toContain(event.eventId);
    expect(report.unprocessableMessages.items.map((i) => i.id)).toContain(`sign-in-event:${String(event.eventId)}`);
  }, 180_000);
});
