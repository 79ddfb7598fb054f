import { describe, expect, it } from "vitest";
import { licenseErrors } from "../../../shared/licenses/errors.js";

describe("license error wording", () => {
  it("when a product has no name but its part number, then a message names it once, not 'X (X)'", () => {
    const unnamed = { skuId: "c1d032e0-5619-4761-9b5c-75b6831e1711", skuPartNumber: "PBI_PREMIUM_PER_USER", displayName: "PBI_PREMIUM_PER_USER" };
    expect(licenseErrors.selfService(unnamed).message).toMatch(/^PBI_PREMIUM_PER_USER belongs to/);
    expect(licenseErrors.notEnoughLicenses(unnamed, 1, 0).message).toMatch(/^Not enough licenses of PBI_PREMIUM_PER_USER: /);
    const named = { ...unnamed, displayName: "Power BI Premium Per User" };
    expect(licenseErrors.selfService(named).message).toMatch(/^Power BI Premium Per User \(PBI_PREMIUM_PER_USER\) belongs to/);
  });
});
