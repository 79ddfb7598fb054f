import { describe, expect, it } from "vitest";
import { alertState } from "../../../shared/alerts/alerts.js";

/** L18: what GET /alerts says of a condition: still holding, or over. */
describe("an alert's state", () => {
  const at = "2026-12-07T10:00:00.000Z";
  const failure = (groupId: string | null) => ({
    type: "licensing-failure" as const, state: "open" as const, resolvedAt: null, occurredAt: at,
    failure: { source: "license-administration", code: "not-enough-licenses", message: "m", userIds: [], occurrences: 1, lastOccurredAt: at, groupId },
  });

  it("when a licensing failure's window (an hour) has passed, then it is resolved at the window's end - it stayed open for ever", () => {
    expect(alertState(failure(null), new Date("2026-12-07T10:59:59Z"))).toEqual({ state: "open", resolvedAt: null });
    expect(alertState(failure(null), new Date("2026-12-07T11:00:00Z"))).toEqual({ state: "resolved", resolvedAt: "2026-12-07T11:00:00.000Z" });
  });

  it("when it is a group-licensing error, then its window is a day; a low-stock alert keeps the state stored (resolved when the product recovers)", () => {
    expect(alertState(failure("g"), new Date("2026-12-08T09:59:59Z")).state).toBe("open");
    expect(alertState(failure("g"), new Date("2026-12-08T10:00:00Z")).state).toBe("resolved");
    const lowStock = { type: "low-stock" as const, state: "open" as const, resolvedAt: null, occurredAt: at, failure: null };
    expect(alertState(lowStock, new Date("2027-01-01T00:00:00Z"))).toEqual({ state: "open", resolvedAt: null });
  });
});
