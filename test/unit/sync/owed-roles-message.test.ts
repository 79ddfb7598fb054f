import { describe, expect, it } from "vitest";
import { owedRolesMessage } from "../../../shared/sync/pending-roles.js";

const BASIC = "2e55c66e-1111-4111-8111-000000000001";
const SALES = "37add708-2222-4222-8222-000000000002";

describe("D14 diagnostics: pendingRoles.message", () => {
  it("when a role was removed from the defaults after it failed, then the message no longer names it; the roles still owed keep theirs", () => {
    const message = `role ${BASIC}: An unexpected error occurred.; role ${SALES} (Sales Person): An unexpected error occurred.`;
    expect(owedRolesMessage(message, [BASIC])).toBe(`role ${BASIC}: An unexpected error occurred.`);
    expect(owedRolesMessage(message, [BASIC.toUpperCase(), SALES])).toBe(message);
  });

  it("when the message names no role (another shape), then it is kept whole", () => {
    expect(owedRolesMessage("Dataverse was unavailable.", [BASIC])).toBe("Dataverse was unavailable.");
  });
});
