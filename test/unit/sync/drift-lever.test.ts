import { describe, expect, it } from "vitest";
import { driftLever } from "../../../shared/sync/drift.js";

const env = { id: "e1", dataverse: { instanceUrl: "https://x.crm.dynamics.com/", domainName: null, securityGroupId: "g1" } };

describe("the lever of a disable the platform refused (D0)", () => {
  it("when the license or the group membership is already gone in Entra, then the lever says the platform disables the record itself, not to remove what is gone", () => {
    const license = driftLever("enabledButIneligible", ["D2.license"], env);
    expect(license).toMatch(/already shows that the user holds no license/);
    expect(license).toMatch(/platform disables the record at its next directory sync/);
    expect(license).not.toMatch(/Remove the user's license/);
    expect(driftLever("enabledButIneligible", ["D2.securityGroup"], env)).toMatch(/is not a direct member of security group g1/);
  });

  it("when the account is disabled or deleted, then the lever names refresh or restore", () => {
    expect(driftLever("enabledButIneligible", ["D2.accountEnabled"], env)).toMatch(/refresh/i);
    expect(driftLever("enabledButIneligible", ["D2.notDeleted"], env)).toMatch(/restore the user in Entra ID \(possible for 30 days, while it is soft-deleted; a user deleted permanently cannot come back\)/);
  });
});
