import { describe, expect, it } from "vitest";
import { KNOWN_APPS } from "../../../shared/autoclaim/apps.js";
import { KeyedQueue } from "../../../shared/concurrency/keyed-queue.js";
import { AppError } from "../../../shared/errors/app-error.js";
import type { EventOutcome } from "../../../shared/events/event-store.js";
import type { SignInEnvelopeBody } from "../../../shared/events/sign-in-event.js";
import { processSignInEvent, type ProcessorDeps } from "../../../shared/autoclaim/processor.js";
import { newEnvelope, type Envelope } from "../../../shared/queue/envelope.js";

/**
 * A11: an event that cannot be served shows why - on the event (GET /sign-in-events/{id}, the
 * report) - whatever way processing failed, while the error still goes to the queue helper (which
 * keeps the message in the failure store, re-enqueues it, or leaves it to the host's retries).
 */
const TENANT = "0b0b0b0b-0000-4000-8000-000000000002";
const APP = KNOWN_APPS.powerBi.appId; // claims at sign-in

function fakes(readUser: () => Promise<never>) {
  const outcomes: EventOutcome[] = [];
  const alerts: unknown[] = [];
  const deps = {
    now: () => new Date("2026-12-06T12:00:00.000Z"),
    events: { setOutcome: (_t: string, _id: string, outcome: EventOutcome) => (outcomes.push(outcome), Promise.resolve(true)) },
    isPaused: () => Promise.resolve(false),
    isAutoClaimEnabled: () => Promise.resolve(true),
    policies: { forApp: () => Promise.resolve({ id: "p1", name: "Policy", appId: APP, enabled: true, products: [{ skuId: "sku-1", disabledPlans: [] }] }) },
    catalog: { get: () => Promise.resolve({ tenantId: TENANT, refreshedAt: "2026-12-06T00:00:00Z", products: [] }) },
    users: { read: readUser },
    claims: { get: () => Promise.resolve(undefined) }, // no claim kept by an earlier attempt
    perClaim: new KeyedQueue(),
    reportFailure: (input: unknown) => (alerts.push(input), Promise.resolve()),
    forwardFirstAccess: () => Promise.resolve(),
    maxAttempts: 3,
  } as unknown as ProcessorDeps;
  return { deps, outcomes, alerts };
}

const envelope = (attempt = 1): Envelope => {
  const body: SignInEnvelopeBody = {
    event: { eventId: "ev-a11", userId: "11111111-1111-4111-8111-111111111111", appId: APP, trigger: "sign-in", occurredAt: "2026-12-06T11:59:00.000Z" },
    source: "E3",
    caller: { id: "relay-app", kind: "relay" },
    receivedAt: "2026-12-06T11:59:01.000Z",
  };
  return { ...newEnvelope({ kind: "sign-in-event", tenantId: TENANT, body, id: "ev-a11" }), attempt };
};

describe("A11: a failure while processing shows on the event", () => {
  it("when Graph refuses for good (a permanent error), then the event is failed with the error's code and reason, an alert is raised, and the error still reaches the queue helper", async () => {
    const { deps, outcomes, alerts } = fakes(() =>
      Promise.reject(new AppError("upstream", "Microsoft Graph refused reading the user (403 Authorization_RequestDenied).", { extensions: { upstreamStatus: 403 } })),
    );
    await expect(processSignInEvent(deps, envelope(), { count: 1 })).rejects.toThrow(/403/);
    expect(outcomes).toEqual([expect.objectContaining({ status: "failed", code: "upstream", reason: expect.stringContaining("403") })]);
    expect(alerts).toHaveLength(1);
  });

  it("when Graph answers a server error (5xx) or a body of no known shape, then it is retried like an outage: before its last attempt the event is not failed, only shown as tried again", async () => {
    for (const error of [
      new AppError("upstream", "Microsoft Graph answered 500: internal error.", { extensions: { upstreamStatus: 500 } }),
      new AppError("upstream", "Microsoft Graph answered a $batch with an unexpected body."),
    ]) {
      const early = fakes(() => Promise.reject(error));
      const thrown = await processSignInEvent(early.deps, envelope(1), { count: 1 }).then(() => undefined, (e: unknown) => e);
      expect(thrown).toMatchObject({ kind: "unavailable", transient: true });
      expect(early.outcomes).toEqual([expect.objectContaining({ status: "queued", code: "retrying" })]);
      expect(early.alerts).toEqual([]);
    }
  });

  it("when the handler fails unexpectedly (a bug), then the event says so - no alert - and the error goes on to the host's retries", async () => {
    const { deps, outcomes, alerts } = fakes(() => Promise.reject(new TypeError("cannot read properties of undefined")));
    await expect(processSignInEvent(deps, envelope(), { count: 1 })).rejects.toThrow(TypeError);
    expect(outcomes).toEqual([expect.objectContaining({ status: "failed", code: "internal-error", reason: expect.stringContaining("cannot read properties") })]);
    expect(alerts).toEqual([]);
  });

  it("when an outage is transient, then the event is not failed before its last attempt (shown as tried again), which gives up visibly", async () => {
    const outage = () => Promise.reject(new AppError("unavailable", "Microsoft Graph is unavailable.", { retryAfterSeconds: 5 }));
    const early = fakes(outage);
    await expect(processSignInEvent(early.deps, envelope(1), { count: 1 })).rejects.toThrow(/unavailable/);
    expect(early.outcomes).toEqual([expect.objectContaining({ status: "queued", code: "retrying" })]);

    const last = fakes(outage);
    await expect(processSignInEvent(last.deps, envelope(3), { count: 1 })).rejects.toThrow(/unavailable/);
    expect(last.outcomes).toEqual([expect.objectContaining({ status: "failed", code: "gave-up" })]);
  });
});
