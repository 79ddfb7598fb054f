import { describe, expect, it } from "vitest";
import { SlidingWindow } from "../../../local/sim-cloud/rate-limit.js";

describe("SlidingWindow", () => {
  it("when spending within the limit, then it is allowed; over it, Retry-After is the time until enough expires", () => {
    const w = new SlidingWindow(10);
    const t0 = 1_000_000;
    expect(w.tryConsume(t0, 4, 10)).toEqual({ ok: true });
    expect(w.tryConsume(t0 + 3_000, 6, 10)).toEqual({ ok: true });
    const refused = w.tryConsume(t0 + 5_000, 1, 10);
    expect(refused).toEqual({ ok: false, retryAfterSeconds: 5 });
    expect(w.used(t0 + 10_000)).toBe(6);
    expect(w.tryConsume(t0 + 10_000, 4, 10)).toEqual({ ok: true });
    expect(w.used(t0 + 13_000)).toBe(4);
  });

  it("when one request costs more than the whole limit, then it waits a full window", () => {
    const w = new SlidingWindow(5);
    expect(w.tryConsume(0, 9, 8)).toEqual({ ok: false, retryAfterSeconds: 5 });
  });

  it("when the window has passed, then everything spent has expired", () => {
    const w = new SlidingWindow(300);
    for (let i = 0; i < 300; i++) w.add(i * 1000, 1);
    expect(w.used(299_000)).toBe(300);
    expect(w.used(600_000)).toBe(0);
  });
});
