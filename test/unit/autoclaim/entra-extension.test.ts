import { afterEach, describe, expect, it, vi } from "vitest";
import { continueResponse, RecentSignIns, withDeadline } from "../../../shared/events/entra-extension.js";

afterEach(() => {
  vi.useRealTimers();
});

describe("E1: answering in time", () => {
  it("when storing or queuing the event hangs, then the answer comes at the deadline (the sign-in is never blocked)", async () => {
    vi.useFakeTimers();
    const hanging = new Promise<never>(() => undefined);
    const answer = withDeadline(hanging, 300);
    await vi.advanceTimersByTimeAsync(299);
    let settled = false;
    void answer.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await answer).toEqual({ outcome: "timeout" });
  });

  it("when the work fails, then the failure is reported, not thrown", async () => {
    expect(await withDeadline(Promise.reject(new Error("Cosmos down")), 300)).toEqual({ outcome: "failed", error: expect.any(Error) });
  });

  it("when answering, then the response is Entra's continue action with no claims", () => {
    expect(continueResponse()).toEqual({
      data: {
        "@odata.type": "microsoft.graph.onTokenIssuanceStartResponseData",
        actions: [{ "@odata.type": "microsoft.graph.tokenIssuanceStart.provideClaimsForToken", claims: {} }],
      },
    });
  });

  it("when the same user signs in to the same app again within the window, then it is recognised; after the window, not", () => {
    const recent = new RecentSignIns(1000, 10);
    recent.remember("u|a", 0);
    expect(recent.seenRecently("u|a", 999)).toBe(true);
    expect(recent.seenRecently("u|a", 1000)).toBe(false);
    expect(recent.seenRecently("v|a", 10)).toBe(false);
  });

  it("when a call takes a sign-in, then calls meanwhile (still storing it) do not; one whose event could not be stored gives it back", () => {
    const recent = new RecentSignIns(1000, 10);
    expect(recent.take("u|a", 0)).toBe(true);
    expect(recent.take("u|a", 1)).toBe(false);
    recent.forget("u|a");
    expect(recent.take("u|a", 2)).toBe(true);
    expect(recent.take("u|a", 1002)).toBe(true);
  });

  it("when the same user signs in to the same app more than 5 minutes later, then it is a new sign-in (L12 re-assignment, A3 licenses bought since)", () => {
    const recent = new RecentSignIns();
    recent.remember("u|a", 0);
    expect(recent.seenRecently("u|a", 5 * 60_000 - 1), "token issuances of one sign-in").toBe(true);
    expect(recent.seenRecently("u|a", 5 * 60_000)).toBe(false);
  });
});
