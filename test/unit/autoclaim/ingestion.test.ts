import { describe, expect, it } from "vitest";
import { timeRefusal } from "../../../shared/events/ingestion.js";
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
