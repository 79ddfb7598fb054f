import { describe, expect, it } from "vitest";
import { runReclamation, type ReclaimDeps } from "../../../shared/autoclaim/reclaim.js";

/** P11/A13: a reclamation run that finds a tenant paused changes nothing there and notes it, so resuming runs it. */
describe("A13 reclamation while automation is paused", () => {
  it("when a tenant is paused, then none of its claims is read or reclaimed, and the run notes the tenant it skipped", async () => {
    const noted: string[] = [];
    let claimsRead = 0;
    const deps = {
      tenantIds: ["t-paused", "t-running"],
      isPaused: (t: string) => Promise.resolve(t === "t-paused"),
      autoClaimSettings: () => Promise.resolve({ enabled: false, reclaimAfterDays: null }),
      claims: { claimed: () => (claimsRead++, Promise.resolve([])) },
      afterDays: 30,
      now: () => new Date("2026-12-07T03:30:00Z"),
      onPaused: (t: string) => (noted.push(t), Promise.resolve()),
    } as unknown as ReclaimDeps;
    expect(await runReclamation(deps)).toEqual({ reclaimed: 0, failed: 0 });
    expect(noted).toEqual(["t-paused"]);
    expect(claimsRead).toBe(0);
  });
});
