import { describe, expect, it } from "vitest";
import { AppError } from "../../../shared/errors/app-error.js";
import type { EventDocument } from "../../../shared/events/sign-in-event.js";
import { ingestSignInEvent, timeRefusal, type IngestDeps } from "../../../shared/events/ingestion.js";
import { secondsUntilNextDay } from "../../../shared/events/caller-cap.js";
import { bodyHashOf } from "../../../shared/events/sign-in-event.js";

const now = new Date("2026-03-10T12:00:00Z");
const event = (occurredAt: string) => ({ eventId: "e", userId: "u", appId: "a", trigger: "sign-in" as const, occurredAt });

describe("event rules", () => {
  it("when occurredAt is more than 24 hours old, then event-too-old; in the future beyond clock skew, then event-in-future; otherwise accepted", () => {
    expect(timeRefusal(event("2026-03-09T11:59:59Z"), now)?.code).toBe("event-too-old");
    expect(timeRefusal(event("2026-03-09T12:00:01Z"), now)).toBeUndefined();
    expect(timeRefusal(event("2026-03-10T12:04:00Z"), now)).toBeUndefined();
    expect(timeRefusal(event("2026-03-10T12:06:00Z"), now)?.code).toBe("event-in-future");
  });

  it("when two bodies differ only in key order, then they are the same body; any other difference makes another body", () => {
    const a = event("2026-03-10T11:00:00Z");
    const b = { occurredAt: a.occurredAt, trigger: a.trigger, appId: a.appId, userId: a.userId, eventId: a.eventId };
    expect(bodyHashOf(b)).toBe(bodyHashOf(a));
    expect(bodyHashOf({ ...a, userId: "other" })).not.toBe(bodyHashOf(a));
  });

  it("when the cap is reached, then the caller is told to come back when the next UTC day starts", () => {
    expect(secondsUntilNextDay(new Date("2026-03-10T23:59:00Z"))).toBe(60);
  });
});

describe("a replay of an event not processed yet", () => {
  const stored = (body: ReturnType<typeof event>) =>
    ({
      id: body.eventId, partitionKey: `t|${body.eventId}`, type: "sign-in-event", tenantId: "t", event: body, bodyHash: bodyHashOf(body), source: "E3",
      caller: { id: "relay", kind: "relay" }, receivedAt: "2026-03-10T11:00:00Z", status: "queued", answer: 202, updatedAt: "2026-03-10T11:00:00Z",
    }) as unknown as EventDocument;
  const deps = (body: ReturnType<typeof event>, send: () => Promise<void>) => {
    const sent: unknown[] = [];
    return {
      sent,
      deps: {
        now: () => now,
        events: { create: () => Promise.reject(new AppError("conflict", "exists")), get: () => Promise.resolve(stored(body)), delete: () => Promise.resolve() },
        caps: { tryTake: () => Promise.resolve({ ok: true, day: "2026-03-10" }), refund: () => undefined },
        queue: { send: (e: unknown) => (sent.push(e), send()) },
      } as unknown as IngestDeps,
    };
  };

  it("when the event is sent again and the queue takes it, then the same answer (202) as the first time", async () => {
    const body = event("2026-03-10T11:00:00Z");
    const d = deps(body, () => Promise.resolve());
    expect(await ingestSignInEvent(d.deps, "t", body, "E3", { id: "relay", kind: "relay" })).toMatchObject({ httpStatus: 202, replay: true });
    expect(d.sent).toHaveLength(1);
  });

  it("when the queue is down as the replay sends it again, then 503 event-queue-unavailable - not a 202 for an event that may be on no queue", async () => {
    const body = event("2026-03-10T11:00:00Z");
    const d = deps(body, () => Promise.reject(new AppError("unavailable", "queue down", { retryAfterSeconds: 7 })));
    await expect(ingestSignInEvent(d.deps, "t", body, "E3", { id: "relay", kind: "relay" })).rejects.toMatchObject({ code: "event-queue-unavailable", retryAfterSeconds: 7 });
  });
});
