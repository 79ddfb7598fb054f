import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { EventStore, type EventCount } from "../../../shared/events/event-store.js";
import type { EventDocument, EventStatus } from "../../../shared/events/sign-in-event.js";
import { useLocalCosmos } from "../../support/cosmos.js";

const cosmos = useLocalCosmos();
const events = () => cosmos.database.container("events");

/**
 * A7/A11 report counts: complete over the period, but a settled UTC day's counts are kept once
 * counted, so a report does not read every failed and skipped event of 90 days each time.
 */
async function processed(tenantId: string, status: EventStatus, code: string, processedAt: string): Promise<void> {
  const eventId = `ev-${randomUUID()}`;
  const doc: EventDocument = {
    id: eventId, partitionKey: `${tenantId}|${eventId}`, type: "sign-in-event", tenantId,
    event: { eventId, userId: randomUUID(), appId: randomUUID(), trigger: "sign-in", occurredAt: processedAt },
    bodyHash: "h", source: "E3", caller: { id: "relay", kind: "relay" }, receivedAt: processedAt, status, code, answer: 202, updatedAt: processedAt, processedAt,
  };
  await events().items.create(doc);
}

const total = (counts: EventCount[]): Record<string, number> => Object.fromEntries(counts.map((c): [string, number] => [`${c.status}|${c.code}`, c.n]).sort());
const keptDays = async (tenantId: string) =>
  (await events().items.query<{ day: string }>({ query: "SELECT c.day FROM c WHERE c.type = 'event-counts' AND c.tenantId = @t", parameters: [{ name: "@t", value: tenantId }] }).fetchAll()).resources
    .map((d) => d.day)
    .sort();

describe("report counts (A7, A11)", () => {
  it("when a report counts a week, then the counts are complete, the settled days are kept, and the next report counts a kept day from what was kept and today afresh", async () => {
    const tenantId = randomUUID();
    const now = new Date("2026-12-07T12:00:00Z");
    const store = new EventStore(events(), { now: () => now });
    const from = new Date("2026-11-30T12:00:00Z"); // 7 days back: a partial first day
    await processed(tenantId, "failed", "no-license-available", "2026-11-30T06:00:00Z"); // before the period
    await processed(tenantId, "failed", "no-license-available", "2026-11-30T18:00:00Z"); // the partial first day
    await processed(tenantId, "skipped", "already-licensed", "2026-12-03T10:00:00Z");
    await processed(tenantId, "skipped", "already-licensed", "2026-12-05T23:59:59Z");
    await processed(tenantId, "failed", "no-license-available", "2026-12-06T08:00:00Z");
    await processed(tenantId, "claimed", "", "2026-12-06T09:00:00Z"); // not a counted status
    await processed(tenantId, "skipped", "guest-user", "2026-12-07T11:00:00Z"); // today
    const first = await store.countsSince(tenantId, ["failed", "skipped"], from);
    expect(total(first)).toEqual({ "failed|no-license-available": 2, "skipped|already-licensed": 2, "skipped|guest-user": 1 });
    // Whole days 1-5 December, each once (6 December ended less than a day ago; today is not over; the partial first day is counted each time).
    expect(await keptDays(tenantId)).toEqual(["2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04", "2026-12-05"]);

    // Written under a kept day (which no event can be once the day settled): the kept count stands. Today's is counted.
    await processed(tenantId, "skipped", "already-licensed", "2026-12-04T12:00:00Z");
    await processed(tenantId, "skipped", "guest-user", "2026-12-07T11:30:00Z");
    const second = await store.countsSince(tenantId, ["failed", "skipped"], from);
    expect(total(second)).toEqual({ "failed|no-license-available": 2, "skipped|already-licensed": 2, "skipped|guest-user": 2 });
    expect((await keptDays(tenantId)).length).toBe(5);
  });

  it("when a day ended less than a day ago, then it is not kept yet: an outcome changed or written late is still counted as it is", async () => {
    const tenantId = randomUUID();
    const store = new EventStore(events(), { now: () => new Date("2026-12-08T20:00:00Z") });
    await processed(tenantId, "failed", "no-license-available", "2026-12-07T23:59:00Z");
    const from = new Date("2026-12-05T20:00:00Z");
    expect(total(await store.countsSince(tenantId, ["failed"], from))).toEqual({ "failed|no-license-available": 1 });
    await processed(tenantId, "failed", "no-license-available", "2026-12-07T23:59:30Z");
    expect(total(await store.countsSince(tenantId, ["failed"], from))).toEqual({ "failed|no-license-available": 2 });
    expect(await keptDays(tenantId)).toEqual(["2026-12-06"]);
  });
});
