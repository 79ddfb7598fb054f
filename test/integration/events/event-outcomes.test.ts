import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { EventStore } from "../../../shared/events/event-store.js";
import type { EventDocument } from "../../../shared/events/sign-in-event.js";
import { useLocalCosmos } from "../../support/cosmos.js";

const cosmos = useLocalCosmos();

/**
 * A11: which outcomes a later write may replace, against the Cosmos-compatible server (the
 * conditions are evaluated there): a processed outcome is written once - a duplicate delivery does
 * not replace it - but a bug's outcome is replaced by the event's later processing, also when that
 * first meets a transient failure (shown as retrying) or the pause (waiting).
 */
const TENANT = "0b0b0b0b-0000-4000-8000-00000000e0e0";

async function storedEvent(store: EventStore): Promise<string> {
  const eventId = `ev-${randomUUID()}`;
  const now = new Date().toISOString();
  const doc: EventDocument = {
    id: eventId, partitionKey: `${TENANT}|${eventId}`, type: "sign-in-event", tenantId: TENANT,
    event: { eventId, userId: randomUUID(), appId: randomUUID(), trigger: "sign-in", occurredAt: now },
    bodyHash: "h", source: "E3", caller: { id: "relay", kind: "relay" }, receivedAt: now, status: "queued", answer: 202, updatedAt: now,
  };
  await store.create(doc);
  return eventId;
}

describe("event outcomes (A11)", () => {
  const store = () => new EventStore(cosmos.database.container("events"));

  it("when an event was processed, then a second processing's outcome does not replace it; claimed still may (a claim settled later)", async () => {
    const s = store();
    const id = await storedEvent(s);
    expect(await s.setOutcome(TENANT, id, { status: "skipped", code: "already-licensed", reason: "first" })).toBe(true);
    expect(await s.setOutcome(TENANT, id, { status: "skipped", code: "already-licensed", reason: "second" })).toBe(false);
    expect(await s.setOutcome(TENANT, id, { status: "queued", code: "retrying", reason: "duplicate's failure" }, { processed: false })).toBe(false);
    expect(await s.get(TENANT, id)).toMatchObject({ status: "skipped", reason: "first" });
    expect(await s.setOutcome(TENANT, id, { status: "claimed", code: null, reason: null })).toBe(true);
    expect(await s.get(TENANT, id)).toMatchObject({ status: "claimed" });
  });

  it("when a bug's outcome is followed by a retry and then by the final outcome, then each is written", async () => {
    const s = store();
    const id = await storedEvent(s);
    expect(await s.setOutcome(TENANT, id, { status: "failed", code: "internal-error", reason: "bug" })).toBe(true);
    expect(await s.setOutcome(TENANT, id, { status: "queued", code: "retrying", reason: "Graph 503" }, { processed: false })).toBe(true);
    expect(await s.get(TENANT, id)).toMatchObject({ status: "queued", processedAt: null });
    expect(await s.setOutcome(TENANT, id, { status: "waiting", code: "automation-paused", reason: "paused" }, { processed: false })).toBe(true);
    expect(await s.setOutcome(TENANT, id, { status: "skipped", code: "already-licensed", reason: "done" })).toBe(true);
    expect(await s.get(TENANT, id)).toMatchObject({ status: "skipped", reason: "done", processedAt: expect.any(String) as string });
  });
});
