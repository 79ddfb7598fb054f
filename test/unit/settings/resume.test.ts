import { describe, expect, it, vi } from "vitest";
import { AppError } from "../../../shared/errors/app-error.js";
import type { QueueSender } from "../../../shared/queue/transport.js";
import { announceResume, AUTOMATION_RESUMED_KIND, runResumedWork } from "../../../shared/settings/resume.js";

const T = "0b0b0b0b-0000-4000-8000-000000000001";

function queue(fail = false) {
  const sent: unknown[] = [];
  const q = { send: vi.fn((e: unknown) => (fail ? Promise.reject(new Error("queue down")) : (sent.push(e), Promise.resolve()))) } as unknown as QueueSender;
  return { q, sent };
}

describe("P11 resume: the scheduled work a pause skipped runs when automation resumes", () => {
  it("when the switch goes from paused to not paused, then one automation-resumed message is sent; any other change sends none", async () => {
    const { q, sent } = queue();
    expect(await announceResume(q, T, { paused: true }, { paused: false }, () => undefined)).toBe(true);
    expect(sent).toEqual([expect.objectContaining({ kind: AUTOMATION_RESUMED_KIND, tenantId: T })]);
    expect(await announceResume(q, T, { paused: false }, { paused: false }, () => undefined)).toBe(false);
    expect(await announceResume(q, T, { paused: false }, { paused: true }, () => undefined)).toBe(false);
    expect(await announceResume(q, T, { paused: true }, { paused: true }, () => undefined)).toBe(false);
    expect(sent).toHaveLength(1);
  });

  it("when the queue is down, then the saved switch stands and a warning says the scheduled runs will do the work", async () => {
    const warn = vi.fn();
    expect(await announceResume(queue(true).q, T, { paused: true }, { paused: false }, warn)).toBe(false);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/scheduled runs/));
  });

  it("when the tenant is paused again by the time the message is handled, then nothing runs; otherwise every run, one failure not stopping the next", async () => {
    const first = vi.fn(() => Promise.reject(new Error("a bug")));
    const second = vi.fn(() => Promise.resolve({ reclaimed: 2 }));
    const runs = [{ name: "trialExpiry", run: first }, { name: "reclamation", run: second }];
    const warn = vi.fn();
    expect(await runResumedWork(T, () => Promise.resolve(true), runs, warn)).toEqual({ paused: true });
    expect(first).not.toHaveBeenCalled();
    expect(await runResumedWork(T, () => Promise.resolve(false), runs, warn)).toEqual({ trialExpiry: { error: "a bug" }, reclamation: { reclaimed: 2 } });
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/trialExpiry .*a bug/));
  });

  it("when the runs a pause skipped were noted, then resuming runs only those, and clears each note once it ran (not when paused again)", async () => {
    const trial = vi.fn(() => Promise.resolve({ paused: false, expired: 3 }));
    const reclaim = vi.fn(() => Promise.resolve({ reclaimed: 1 }));
    const cleared: string[] = [];
    const skipped = { has: (run: string) => run === "trialExpiry", clear: (run: string) => (cleared.push(run), Promise.resolve()) };
    const runs = [{ name: "trialExpiry", run: trial }, { name: "reclamation", run: reclaim }];
    expect(await runResumedWork(T, () => Promise.resolve(false), runs, () => undefined, skipped)).toEqual({ trialExpiry: { paused: false, expired: 3 }, reclamation: { notSkipped: true } });
    expect(reclaim).not.toHaveBeenCalled();
    expect(cleared).toEqual(["trialExpiry"]);

    const pausedAgain = { has: () => true, clear: (run: string) => (cleared.push(run), Promise.resolve()) };
    await runResumedWork(T, () => Promise.resolve(false), [{ name: "trialExpiry", run: () => Promise.resolve({ paused: true }) }], () => undefined, pausedAgain);
    expect(cleared).toEqual(["trialExpiry"]);
  });

  it("when a run fails for a passing reason (Graph throttling, a dependency down), then the others still run and the message fails so the queue delivers it again", async () => {
    const throttled = new AppError("unavailable", "Graph is throttling", { retryAfterSeconds: 5 });
    const second = vi.fn(() => Promise.resolve({ reclaimed: 0 }));
    const runs = [{ name: "trialExpiry", run: () => Promise.reject(throttled) }, { name: "reclamation", run: second }];
    await expect(runResumedWork(T, () => Promise.resolve(false), runs, () => undefined)).rejects.toBe(throttled);
    expect(second).toHaveBeenCalled();
  });
});
