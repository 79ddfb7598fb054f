import { randomUUID } from "node:crypto";
import type { Client } from "@microsoft/microsoft-graph-client";
import { describe, expect, it } from "vitest";
import { KNOWN_APPS } from "../../../shared/autoclaim/apps.js";
import { EventStore } from "../../../shared/events/event-store.js";
import type { SignInEnvelopeBody } from "../../../shared/events/sign-in-event.js";
import { pollAllTenants } from "../../../shared/events/sign-in-log-poller.js";
import type { Envelope } from "../../../shared/queue/envelope.js";
import type { QueueSender } from "../../../shared/queue/transport.js";
import { useLocalCosmos } from "../../support/cosmos.js";

const cosmos = useLocalCosmos("signin-poll");

/** E2 against the local Cosmos server, with Graph's sign-in log and the queue faked. */
function poller() {
  const tenantId = randomUUID();
  const log: Record<string, unknown>[] = [];
  const sent: Envelope[] = [];
  let now = new Date("2026-12-06T12:00:00.000Z");
  const clock = () => now;
  const graph = { api: () => ({ get: () => Promise.resolve({ value: log }) }) } as unknown as Client;
  const queue = { transport: "storage-queue", queueName: "events", send: (e: Envelope) => (sent.push(e), Promise.resolve()), close: () => Promise.resolve() } as unknown as QueueSender;
  const poll = () =>
    pollAllTenants({
      ingest: {
        events: new EventStore(cosmos.database.container("events"), { now: clock }),
        caps: { tryTake: () => Promise.resolve({ ok: true, day: clock().toISOString().slice(0, 10) }), refund: () => undefined } as never,
        queue,
        now: clock,
      },
      graph: () => graph,
      state: cosmos.database.container("autoclaim"),
      now: clock,
      tenants: () => Promise.resolve([tenantId]),
      policyApps: () => Promise.resolve([]), // no auto-claim policy at all
      log: (message, err) => {
        throw new Error(`${message}: ${String(err)}`);
      },
    });
  const signIn = (userId: string, appId: string, at: string) => log.push({ id: randomUUID(), createdDateTime: at, userId, appId, status: { errorCode: 0 } });
  return { poll, signIn, sent, setNow: (iso: string) => (now = new Date(iso)) };
}

const flows = KNOWN_APPS.powerAutomate.appId;
/** The events queued (an event read again while still queued is sent again under its own id: the queue's duplicate detection, or its idempotent processing, absorbs that). */
const queuedEvents = (sent: Envelope[]) => [...new Set(sent.map((e) => (e.body as SignInEnvelopeBody).event.eventId))];

describe("E2: the sign-in log poller", () => {
  it("when a tenant has no policy, then sign-ins to an app with a free tracking plan are still queued (L12 does not depend on auto-claim); other apps are not", async () => {
    const p = poller();
    const user = randomUUID();
    p.signIn(user, flows, "2026-12-06T11:00:00Z");
    p.signIn(user, randomUUID(), "2026-12-06T11:01:00Z");

    const [result] = await p.poll();

    expect(result).toMatchObject({ read: 2, queued: 1 });
    expect(queuedEvents(p.sent)).toEqual([`e2-20261206-${user}-${flows}`]);
  });

  it("when the user signs in to the app again the same day, in this poll or a later one, then nothing more is queued; the next day, one event again", async () => {
    const p = poller();
    const user = randomUUID();
    p.signIn(user, flows, "2026-12-06T11:00:00Z");
    p.signIn(user, flows, "2026-12-06T11:10:00Z");
    await p.poll();
    expect(queuedEvents(p.sent)).toHaveLength(1);

    p.signIn(user, flows, "2026-12-06T11:40:00Z");
    p.setNow("2026-12-06T12:10:00.000Z");
    const [second] = await p.poll();
    expect(second).toMatchObject({ queued: 0 });
    expect(queuedEvents(p.sent)).toHaveLength(1);

    p.signIn(user, flows, "2026-12-07T00:05:00Z");
    p.setNow("2026-12-07T00:20:00.000Z");
    await p.poll();
    expect(queuedEvents(p.sent)).toEqual([`e2-20261206-${user}-${flows}`, `e2-20261207-${user}-${flows}`]);
  });
});
