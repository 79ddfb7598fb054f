import { describe, expect, it } from "vitest";
import type { CapDecision } from "../../../shared/events/caller-cap.js";
import type { SignInEnvelopeBody } from "../../../shared/events/sign-in-event.js";
import { processSignInEvent, type ProcessorDeps } from "../../../shared/autoclaim/processor.js";
import { newEnvelope, type Envelope } from "../../../shared/queue/envelope.js";

/**
 * E1-E3: an event over its caller's daily cap is kept (deferred) and processed on a later day, when
 * it takes that day's cap. Only the first steps of the processor run here: automation is paused
 * in these fakes, so an event that gets past the cap ends as "rescheduled: paused".
 */
const TENANT = "0b0b0b0b-0000-4000-8000-000000000001";

function fakes(now: Date, capLeft: boolean) {
  const sent: { envelope: Envelope; delaySeconds: number | undefined }[] = [];
  const taken: string[] = [];
  const deps = {
    now: () => now,
    caps: {
      tryTake: (_tenantId: string, callerId: string): Promise<CapDecision> => {
        taken.push(callerId);
        const day = now.toISOString().slice(0, 10);
        return Promise.resolve(capLeft ? { ok: true, day } : { ok: false, day, retryAfterSeconds: 60 });
      },
    },
    queue: {
      send: (envelope: Envelope, options?: { delaySeconds?: number }) => {
        sent.push({ envelope, delaySeconds: options?.delaySeconds });
        return Promise.resolve();
      },
    },
    isPaused: () => Promise.resolve(true),
    events: { setOutcome: () => Promise.resolve(true) },
    forwardFirstAccess: () => Promise.resolve(),
    pauseRecheckSeconds: 30,
  } as unknown as ProcessorDeps;
  return { deps, sent, taken };
}

const deferredEnvelope = (deferredDay: string) => {
  const body: SignInEnvelopeBody = {
    event: { eventId: "ev-1", userId: "11111111-1111-4111-8111-111111111111", appId: "22222222-2222-4222-8222-222222222222", trigger: "sign-in", occurredAt: `${deferredDay}T22:00:00.000Z` },
    source: "E3",
    caller: { id: "relay-app", kind: "relay" },
    receivedAt: `${deferredDay}T22:00:01.000Z`,
    deferredDay,
  };
  return newEnvelope({ kind: "sign-in-event", tenantId: TENANT, body, id: "ev-1" });
};

describe("events deferred by the daily cap", () => {
  it("when a deferred event is delivered on its own day, then it is sent again for the next UTC day without taking a cap", async () => {
    const { deps, sent, taken } = fakes(new Date("2026-12-06T23:00:00.000Z"), true);
    const result = await processSignInEvent(deps, deferredEnvelope("2026-12-06"));
    expect(result).toMatchObject({ kind: "rescheduled", reason: "daily-cap" });
    expect(taken).toEqual([]);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.delaySeconds).toBeGreaterThanOrEqual(3600);
    expect(sent[0]!.delaySeconds).toBeLessThanOrEqual(3600 + 300);
    expect((sent[0]!.envelope.body as SignInEnvelopeBody).deferredDay).toBe("2026-12-06");
  });

  it("when it is delivered on a later day and the caller's cap has room, then it takes a unit and goes on to be processed", async () => {
    const { deps, sent, taken } = fakes(new Date("2026-12-07T00:02:00.000Z"), true);
    const result = await processSignInEvent(deps, deferredEnvelope("2026-12-06"));
    expect(taken).toEqual(["relay-app"]);
    expect(result).toMatchObject({ kind: "rescheduled", reason: "paused" }); // past the cap: the next step ran
    expect((sent[0]!.envelope.body as SignInEnvelopeBody).deferredDay).toBeUndefined();
  });

  it("when the caller's cap of the later day is full too, then it is kept for the day after, not dropped", async () => {
    const { deps, sent } = fakes(new Date("2026-12-07T10:00:00.000Z"), false);
    const result = await processSignInEvent(deps, deferredEnvelope("2026-12-06"));
    expect(result).toMatchObject({ kind: "rescheduled", reason: "daily-cap" });
    expect((sent[0]!.envelope.body as SignInEnvelopeBody).deferredDay).toBe("2026-12-07");
    expect(sent[0]!.delaySeconds).toBeGreaterThanOrEqual(14 * 3600);
  });
});
