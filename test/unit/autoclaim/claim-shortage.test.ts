import { describe, expect, it } from "vitest";
import { ClaimAssigner, type ClaimAssignment } from "../../../shared/autoclaim/license-access.js";
import type { LicenseAssignments } from "../../../shared/licenses/assign.js";
import { licenseErrors } from "../../../shared/licenses/errors.js";

/**
 * A3/A10: claims travel to Graph 20 per request, and L7 refuses a whole request when one product is
 * short. The claims of that product that fit must still be assigned: only the excess moves on to
 * the next backup.
 */
const SHORT = "55555555-5555-4555-8555-555555555555";
const OTHER = "66666666-6666-4666-8666-666666666666";

/** Graph with `available` licenses of SHORT left (L7 checks the request before anything is assigned). */
function graph(available: number) {
  const requests: string[][] = [];
  const assignments = {
    assignLicensesBulk: ({ changes }: { changes: { userId: string; add: { skuId: string }[] }[] }) => {
      requests.push(changes.map((c) => c.userId));
      const wanted = changes.filter((c) => c.add[0]?.skuId === SHORT).length;
      if (wanted > available) {
        return Promise.reject(licenseErrors.notEnoughLicenses({ skuId: SHORT, skuPartNumber: "SHORT", displayName: "Short" }, wanted - available, available));
      }
      return Promise.resolve({ results: changes.map((c) => ({ userId: c.userId, outcome: "succeeded" })), shortages: [] });
    },
  } as unknown as LicenseAssignments;
  return { assigner: new ClaimAssigner(() => Promise.resolve(assignments), { lingerMs: 5 }), requests };
}

const claim = (n: number, skuId: string): ClaimAssignment => ({ userId: `u${n}`, skuId, disabledPlans: [], context: {} });

describe("a claim request with one product short", () => {
  it("when 5 claims of a product with 2 licenses left travel with another product's claim, then 2 of them and the other are assigned, and only 3 move on", async () => {
    const g = graph(2);
    const outcomes = await Promise.all([...[1, 2, 3, 4, 5].map((n) => g.assigner.assign("t", claim(n, SHORT))), g.assigner.assign("t", claim(6, OTHER))]);

    expect(outcomes.map((o) => o.outcome)).toEqual(["assigned", "assigned", "no-license-left", "no-license-left", "no-license-left", "assigned"]);
    expect(g.requests).toEqual([["u1", "u2", "u3", "u4", "u5", "u6"], ["u1", "u2", "u6"]]);
  });

  it("when the product has none left, then all its claims move on and the others are assigned", async () => {
    const g = graph(0);
    const outcomes = await Promise.all([g.assigner.assign("t", claim(1, SHORT)), g.assigner.assign("t", claim(2, SHORT)), g.assigner.assign("t", claim(3, OTHER))]);
    expect(outcomes.map((o) => o.outcome)).toEqual(["no-license-left", "no-license-left", "assigned"]);
  });
});
