import { describe, expect, it } from "vitest";
import { runView } from "../../../shared/environments/sync-runs.js";
import { newRun } from "../../../shared/sync/runs.js";

describe("D11/D12 a run waiting out Microsoft's throttling", () => {
  const run = () => ({ ...newRun({ tenantId: "t", environmentId: "e", trigger: "manual", requestedBy: null, now: new Date("2026-12-06T10:00:00Z") }), state: "running" as const });

  it("when a running run waits for a Retry-After, then its view says until when", () => {
    const resumeAt = Date.parse("2026-12-06T10:00:30Z");
    expect(runView({ ...run(), resumeAt }).waitingUntil).toBe("2026-12-06T10:00:30.000Z");
  });

  it("when it is not waiting, or has ended, then waitingUntil is null", () => {
    expect(runView(run()).waitingUntil).toBeNull();
    expect(runView({ ...run(), state: "succeeded", resumeAt: Date.parse("2026-12-06T10:00:30Z") }).waitingUntil).toBeNull();
  });
});
