import { randomUUID } from "node:crypto";
import { QueueClient } from "@azure/storage-queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzurite, type ManagedProcess } from "../../../local/services.js";
import { DEMO_IDS } from "../../../local/sim-cloud/demo-tenant.js";
import { EVENTS_QUEUE } from "../../../shared/events/queues.js";
import { signInEvent, startAutoClaimStack, TENANT, type AutoClaimStack } from "./support.js";

const CAP = 3;
let s: AutoClaimStack;
/** The Azurite a test starts in place of the one it stopped: the stack stops it too. */
let restarted: ManagedProcess | undefined;
beforeAll(async () => {
  s = await startAutoClaimStack({ AUTOCLAIM_DAILY_CAP_PER_CALLER: String(CAP) });
});
afterAll(async () => {
  await s?.stop();
  if (restarted) expect(restarted.child.exitCode !== null || restarted.child.signalCode !== null).toBe(true);
});

/** Each test relays with its own application, so each has its own daily cap. */
const relayToken = () => s.stack.token({ tenantId: TENANT, appRoles: ["SignInEvents.Send"], appId: randomUUID() });
const member = DEMO_IDS.users.member;
const app = () => randomUUID();

describe("sign-in event ingestion (E3)", () => {
  it("when a relay posts an event, then 202 {id, status} with a Location an admin can read", async () => {
    const event = signInEvent(member, app());
    const res = await s.postEvent(event, await relayToken());
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ id: event.eventId, status: "queued" });
    expect(res.headers.get("location")).toBe(`/api/tenants/${TENANT}/sign-in-events/${String(event.eventId)}`);
    const read = await s.waitForEvent(String(event.eventId));
    expect(read).toMatchObject({ id: event.eventId, source: "E3", userId: member, trigger: "sign-in" });
  });

  it("when the app is a first-party Microsoft app (ids like 00000007-0000-0000-c000-000000000000 are GUIDs, not RFC 4122 UUIDs) and the environment is the default one (Default-<tenant id>), then the event is accepted", async () => {
    const event = signInEvent(member, "00000007-0000-0000-c000-000000000000", { environmentId: `Default-${TENANT}` });
    const res = await s.postEvent(event, await relayToken());
    expect(res.status, await res.clone().text()).toBe(202);
  });

  it("when the route names the tenant in capitals, then it is the same tenant: the event is stored and processed under its id as Entra writes it", async () => {
    const event = signInEvent(member, app());
    const res = await s.stack.call(`/api/tenants/${TENANT.toUpperCase()}/sign-in-events`, {
      method: "POST", token: await relayToken(), headers: { "Content-Type": "application/json" }, body: JSON.stringify(event),
    });
    expect(res.status).toBe(202);
    expect(res.headers.get("location")).toBe(`/api/tenants/${TENANT}/sign-in-events/${String(event.eventId)}`);
    expect(await s.waitForEvent(String(event.eventId))).toMatchObject({ id: event.eventId, source: "E3" });
  });

  it("when the relay polls the Location it was given, then it reads its own event; another relay's event is a 404 to it", async () => {
    const token = await relayToken();
    const event = signInEvent(member, app());
    const res = await s.postEvent(event, token);
    const location = res.headers.get("location") ?? "";
    const own = await s.stack.call(location, { token });
    expect(own.status).toBe(200);
    expect(await own.json()).toMatchObject({ id: event.eventId });
    expect((await s.stack.call(location, { token: await relayToken() })).status).toBe(404);
  });

  it("when the same event is posted again, then the same answer; when its id comes with another body, then 409 event-id-reused", async () => {
    const token = await relayToken();
    const event = signInEvent(member, app());
    const first = await s.postEvent(event, token);
    const again = await s.postEvent(event, token);
    expect(again.status).toBe(first.status);
    expect(((await again.json()) as { id: string }).id).toBe(event.eventId);
    const other = await s.postEvent({ ...event, userId: DEMO_IDS.users.licenseAdmin }, token);
    expect(other.status).toBe(409);
    expect(((await other.json()) as { type: string }).type).toMatch(/event-id-reused$/);
  });

  it("when the same event is posted again with its occurredAt written another way (same instant), then it is the same event, not a 409", async () => {
    const token = await relayToken();
    const at = new Date(Date.now() - 60_000);
    at.setUTCMilliseconds(0);
    const event = signInEvent(member, app(), { occurredAt: at.toISOString() });
    expect((await s.postEvent(event, token)).status).toBe(202);
    for (const written of [at.toISOString().replace(".000Z", "Z"), at.toISOString().replace(".000Z", "+00:00")]) {
      const again = await s.postEvent({ ...event, occurredAt: written }, token);
      expect(again.status, written).toBe(202);
      expect(((await again.json()) as { id: string }).id).toBe(event.eventId);
    }
  });

  it("when a relay sends back the event as GET shows it (environmentId null for none), then it is accepted and the same event as one without it", async () => {
    const token = await relayToken();
    const event = signInEvent(member, app());
    const first = await s.postEvent({ ...event, environmentId: null }, token);
    expect(first.status, await first.clone().text()).toBe(202);
    const read = await s.waitForEvent(String(event.eventId));
    expect(read).toMatchObject({ environmentId: null });

    const again = await s.postEvent(event, token);
    expect(again.status).toBe(202);
    expect(((await again.json()) as { id: string }).id).toBe(event.eventId);
    // The relay's own retry, null again: the same event.
    const retried = await s.postEvent({ ...event, environmentId: null }, token);
    expect(retried.status).toBe(202);
  });

  it("when another relay posts an event id already used by a relay, then 409 event-id-reused, without the first relay's status", async () => {
    const event = signInEvent(member, app());
    expect((await s.postEvent(event, await relayToken())).status).toBe(202);

    const other = await s.postEvent(event, await relayToken());

    expect(other.status).toBe(409);
    const problem = (await other.json()) as { type: string; status: number };
    expect(problem).toMatchObject({ type: expect.stringMatching(/event-id-reused$/) as string, status: 409 });
    expect(problem).not.toHaveProperty("id");
  });

  it("when one event is posted five times at once (the copies share one grouped write), then it is stored once and every copy gets 202 with its id", async () => {
    const token = await relayToken();
    const event = signInEvent(member, app());
    const answers = await Promise.all(Array.from({ length: 5 }, () => s.postEvent(event, token)));
    expect(answers.map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);
    for (const r of answers) expect(((await r.json()) as { id: string }).id).toBe(event.eventId);
    const stored = await s.getEvent(String(event.eventId));
    expect(stored).toMatchObject({ id: event.eventId, userId: member });
  });

  it("when occurredAt is more than 24 hours old or in the future, then 422 and nothing is stored", async () => {
    const token = await relayToken();
    const old = signInEvent(member, app(), { occurredAt: new Date(Date.now() - 25 * 3600_000).toISOString() });
    const future = signInEvent(member, app(), { occurredAt: new Date(Date.now() + 3600_000).toISOString() });
    for (const [event, code] of [[old, "event-too-old"], [future, "event-in-future"]] as const) {
      const res = await s.postEvent(event, token);
      expect(res.status).toBe(422);
      expect(((await res.json()) as { type: string }).type).toMatch(new RegExp(`${code}$`));
      expect(await s.getEvent(String(event.eventId))).toBeUndefined();
    }
  });

  it("when a body does not match the schema (a UPN for a user, an unknown trigger, an extra field, no id), then 400 and it is never stored or queued", async () => {
    const token = await relayToken();
    const bad = [
      signInEvent("adele.vance@contoso-sim.onmicrosoft.com", app()),
      signInEvent(member, app(), { trigger: "clicked-around" }),
      signInEvent(member, app(), { tenant: "extra" }),
      { ...signInEvent(member, app()), eventId: undefined },
      signInEvent(member, app(), { eventId: "bad/id" }),
      // The ids E1 and E2 make for their own events are theirs.
      signInEvent(member, app(), { eventId: `e2-20261207-${member}-${app()}` }),
      signInEvent(member, app(), { eventId: `E1-${randomUUID()}` }),
    ];
    for (const event of bad) {
      const res = await s.postEvent(event, token);
      expect(res.status, JSON.stringify(event)).toBe(400);
      if (typeof event.eventId === "string" && !event.eventId.includes("/")) expect(await s.getEvent(event.eventId)).toBeUndefined();
    }
  });

  it("when the caller is no relay (an admin token, an app without the role, no token), then 403 / 401", async () => {
    expect((await s.postEvent(signInEvent(member, app()), s.admin)).status).toBe(403);
    expect((await s.postEvent(signInEvent(member, app()), await s.stack.token({ tenantId: TENANT, appRoles: ["Other.Role"], appId: randomUUID() }))).status).toBe(403);
    const anonymous = await s.stack.call(`/api/tenants/${TENANT}/sign-in-events`, { method: "POST", body: JSON.stringify(signInEvent(member, app())) });
    expect(anonymous.status).toBe(401);
  });

  it("when a caller is over its daily cap, then 429 with Retry-After, and its event is kept (deferred) for the next day", async () => {
    // Paused: the accepted events stay in flight (each holds its unit of the cap).
    await s.setSetting("automation", { paused: true });
    try {
      const token = await relayToken();
      for (let i = 0; i < CAP; i++) expect((await s.postEvent(signInEvent(member, app()), token)).status).toBe(202);
      const over = signInEvent(member, app());
      const res = await s.postEvent(over, token);
      expect(res.status).toBe(429);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(await res.json()).toMatchObject({ id: over.eventId, eventStatus: "deferred" });
      expect(await s.getEvent(String(over.eventId))).toMatchObject({ status: "deferred", code: "daily-cap-reached" });
      // Another caller is not affected.
      expect((await s.postEvent(signInEvent(member, app()), await relayToken())).status).toBe(202);
    } finally {
      await s.setSetting("automation", { paused: false });
    }
  });

  it("when a caller's events claim nothing (skipped), then they give their unit of the cap back: the cap counts claims", async () => {
    const token = await relayToken();
    for (let i = 0; i < CAP + 2; i++) {
      const event = signInEvent(member, app()); // no policy for the app: skipped
      expect((await s.postEvent(event, token)).status).toBe(202);
      expect(await s.waitForEvent(String(event.eventId))).toMatchObject({ status: "skipped" });
    }
    expect((await s.postEvent(signInEvent(member, app()), token)).status).toBe(202);
  });

  // Last: it stops the queue service.
  it("when the queue is down, then 503 with Retry-After and the event is not half-accepted; sent again once the queue is back, it is accepted", async () => {
    const token = await relayToken();
    const event = signInEvent(member, app());
    await s.stack.processes.azurite?.stop();
    const res = await s.postEvent(event, token);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).not.toBeNull();
    expect(await s.getEvent(String(event.eventId))).toBeUndefined();

    const azurite = await startAzurite({ ports: s.stack.ports });
    s.stack.processes.azurite = restarted = azurite;
    await new QueueClient(s.stack.storageConnectionString, EVENTS_QUEUE).createIfNotExists();
    const retried = await s.postEvent(event, token);
    expect(retried.status).toBe(202);
    await s.waitForEvent(String(event.eventId));
  });
});
