import type { InvocationContext } from "@azure/functions";
import { describe, expect, it } from "vitest";
import { mayFollowEarlierAttempt } from "../../../shared/autoclaim/processor.js";
import { deliveryCount } from "../../../shared/events/dispatch.js";
import type { SignInEnvelopeBody } from "../../../shared/events/sign-in-event.js";
import { newEnvelope, nextAttempt } from "../../../shared/queue/envelope.js";

/**
 * An event whose user already holds a product of the policy reads its own claim (to settle a claim
 * an earlier attempt left pending after Graph assigned the license) only when an earlier attempt
 * may exist: sign-ins of licensed users are most events, and each such read is a Cosmos request.
 */
const body: SignInEnvelopeBody = {
  event: { eventId: "ev-1", userId: "11111111-1111-4111-8111-111111111111", appId: "22222222-2222-4222-8222-222222222222", trigger: "sign-in", occurredAt: "2026-12-06T10:00:00.000Z" },
  source: "E3",
  caller: { id: "relay-app", kind: "relay" },
  receivedAt: "2026-12-06T10:00:01.000Z",
};
const first = newEnvelope({ kind: "sign-in-event", tenantId: "0b0b0b0b-0000-4000-8000-000000000001", body, id: "ev-1" });

describe("which deliveries may follow an earlier attempt of the same event", () => {
  it("a first delivery of the message ingestion sent: no", () => {
    expect(mayFollowEarlierAttempt(first, body, { count: 1 })).toBe(false);
  });

  it("a transport redelivery (the handler threw, or the worker died holding it): yes", () => {
    expect(mayFollowEarlierAttempt(first, body, { count: 2 })).toBe(true);
  });

  it("our own retry after a transient failure: yes", () => {
    expect(mayFollowEarlierAttempt(nextAttempt(first, "Cosmos unavailable", new Date()), body, { count: 1 })).toBe(true);
  });

  it("a re-sent envelope (paused, deferred, re-queued by maintenance): yes", () => {
    expect(mayFollowEarlierAttempt({ ...first, id: "ev-1.requeued-1" }, body, { count: 1 })).toBe(true);
  });

  it("a delivery count the trigger did not report: yes", () => {
    expect(mayFollowEarlierAttempt(first, body, {})).toBe(true);
  });
});

describe("delivery count from the trigger", () => {
  const ctx = (triggerMetadata: Record<string, unknown> | undefined) => ({ triggerMetadata }) as unknown as InvocationContext;
  it("reads the storage queue's dequeueCount and Service Bus's deliveryCount", () => {
    expect(deliveryCount(ctx({ dequeueCount: 1 }))).toBe(1);
    expect(deliveryCount(ctx({ deliveryCount: 3 }))).toBe(3);
  });
  it("is unknown when absent or not a count", () => {
    expect(deliveryCount(ctx(undefined))).toBeUndefined();
    expect(deliveryCount(ctx({ dequeueCount: "x" }))).toBeUndefined();
    expect(deliveryCount(ctx({ dequeueCount: 0 }))).toBeUndefined();
  });
});
