import { describe, expect, it } from "vitest";
import { AppError } from "../../../shared/errors/app-error.js";
import { failuresToAlert, type Prepared } from "../../../shared/licenses/assign.js";
import { licenseErrors } from "../../../shared/licenses/errors.js";

/** L18: a licensing-failure alert names the product the failed change was about. */
describe("which product a licensing-failure alert names", () => {
  const throttled = new AppError("unavailable", "Microsoft Graph is throttling (429); nothing was changed for this user.", { code: "throttled" });
  const failed = (userId: string) => ({ userId, outcome: "failed" as const, error: throttled });
  const prepared = (change: Prepared["change"]): Prepared => ({ change, newUnits: [], freedUnits: [] });

  it("when the error names no product, then the change's: the one added, else the one removed, else the one whose plans changed", () => {
    const out = failuresToAlert(
      [failed("a"), failed("r"), failed("p")],
      [
        prepared({ userId: "a", add: [{ skuId: "sku-added", disabledPlans: [] }] }),
        prepared({ userId: "r", remove: ["sku-removed"] }),
        prepared({ userId: "p", setPlans: [{ skuId: "sku-plans", disabledPlans: [] }] }),
      ],
    );
    expect(out.map((f) => [f.skuId, f.userIds])).toEqual([["sku-added", ["a"]], ["sku-removed", ["r"]], ["sku-plans", ["p"]]]);
  });

  it("when a change waited for Graph's read lag (read-lag: a user changed twice in quick succession), then no alert: it clears by itself", () => {
    const lag = { userId: "l", outcome: "failed" as const, error: licenseErrors.readLag("l", "2026-12-07T10:00:00.000Z", 10) };
    const out = failuresToAlert([lag, failed("a")], [prepared({ userId: "l", add: [{ skuId: "sku", disabledPlans: [] }] }), prepared({ userId: "a", add: [{ skuId: "sku", disabledPlans: [] }] })]);
    expect(out.map((f) => f.userIds)).toEqual([["a"]]);
  });
});
