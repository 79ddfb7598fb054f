import { describe, expect, it } from "vitest";
import { assignedLicensesOf } from "../../../local/sim-cloud/state/directory.js";
import { parseFixture, type TenantFixture } from "../../../local/sim-cloud/state/fixture.js";
import { guidFor } from "../../../local/sim-cloud/state/ids.js";
import { assignLicense, evaluateGroupLicenses } from "../../../local/sim-cloud/state/licensing.js";
import { TenantState } from "../../../local/sim-cloud/state/tenant-state.js";

const id = (n: number) => guidFor("licensing-unit", n);
const SKU_A = id(100);
const SKU_B = id(101);
const SKU_ADDON = id(102);
const PLAN_A1 = id(200);
const PLAN_A2 = id(201);
const PLAN_B1 = id(202);
const PLAN_ADDON = id(203);
const GROUP = id(300);

function fixture(units: { a?: number; b?: number } = {}): TenantFixture {
  return {
    tenant: { id: id(1), displayName: "Unit", defaultDomain: "unit.onmicrosoft.com" },
    users: [1, 2, 3, 4].map((n) => ({ id: id(10 + n), userPrincipalName: `u${n}@unit.onmicrosoft.com`, displayName: `U${n}`, usageLocation: n === 4 ? null : "NL" })),
    skus: [
      { skuId: SKU_A, skuPartNumber: "A", prepaidUnits: { enabled: units.a ?? 10 }, servicePlans: [{ servicePlanId: PLAN_A1, servicePlanName: "A1" }, { servicePlanId: PLAN_A2, servicePlanName: "A2" }] },
      { skuId: SKU_B, skuPartNumber: "B", prepaidUnits: { enabled: units.b ?? 10 }, servicePlans: [{ servicePlanId: PLAN_B1, servicePlanName: "B1" }] },
      { skuId: SKU_ADDON, skuPartNumber: "ADDON", prepaidUnits: { enabled: 10 }, servicePlans: [{ servicePlanId: PLAN_ADDON, servicePlanName: "ADDON" }] },
    ],
    groups: [{ id: GROUP, displayName: "Licensed", members: [id(11), id(12), id(13)], assignedLicenses: [{ skuId: SKU_B }] }],
    servicePlanRules: { mutuallyExclusive: [[PLAN_A2, PLAN_B1]], dependencies: [{ servicePlanId: PLAN_ADDON, requiresAnyOf: [PLAN_A1] }] },
  };
}

const setup = (units?: { a?: number; b?: number }) => {
  const state = new TenantState(parseFixture(fixture(units)));
  const dir = state.directory;
  return { dir, user: (n: number) => dir.users.get(id(10 + n))! };
};

describe("assignLicense rules", () => {
  it("when plans are mutually exclusive across licenses, then the add fails unless one plan is disabled", () => {
    const { dir, user } = setup({ b: 0 });
    expect(() => assignLicense(dir, user(1), { addLicenses: [{ skuId: SKU_A }], removeLicenses: [] })).not.toThrow();
    const { dir: d2, user: u2 } = setup();
    // u1 holds B through the group: adding A (with A2) conflicts with B1.
    expect(() => assignLicense(d2, u2(1), { addLicenses: [{ skuId: SKU_A }], removeLicenses: [] })).toThrow(/mutually exclusive/);
    expect(() => assignLicense(d2, u2(1), { addLicenses: [{ skuId: SKU_A, disabledPlans: [PLAN_A2] }], removeLicenses: [] })).not.toThrow();
  });

  it("when a prerequisite plan is missing, then the add fails; once present it succeeds; removing the prerequisite later fails", () => {
    const { dir, user } = setup();
    expect(() => assignLicense(dir, user(3), { addLicenses: [{ skuId: SKU_ADDON }], removeLicenses: [] })).toThrow(/depends on/);
    const { dir: d, user: u } = setup({ b: 0 });
    assignLicense(d, u(1), { addLicenses: [{ skuId: SKU_A }], removeLicenses: [] });
    assignLicense(d, u(1), { addLicenses: [{ skuId: SKU_ADDON }], removeLicenses: [] });
    expect(() => assignLicense(d, u(1), { addLicenses: [], removeLicenses: [SKU_A] })).toThrow(/depends on/);
  });

  it("when units run out, then the next new assignment fails but re-sending a held SKU does not need a unit", () => {
    const { dir, user } = setup({ a: 1, b: 0 });
    assignLicense(dir, user(1), { addLicenses: [{ skuId: SKU_A }], removeLicenses: [] });
    expect(dir.skus.get(SKU_A)?.consumedUnits).toBe(1);
    expect(() => assignLicense(dir, user(2), { addLicenses: [{ skuId: SKU_A }], removeLicenses: [] })).toThrow(/does not have any available licenses/);
    assignLicense(dir, user(1), { addLicenses: [{ skuId: SKU_A, disabledPlans: [PLAN_A2] }], removeLicenses: [] });
    expect(assignedLicensesOf(user(1).licenses)).toEqual([{ skuId: SKU_A, disabledPlans: [PLAN_A2] }]);
    expect(dir.skus.get(SKU_A)?.consumedUnits).toBe(1);
  });

  it("when a user has no usage location, then adding fails but removing does not need one", () => {
    const { dir, user } = setup();
    expect(() => assignLicense(dir, user(4), { addLicenses: [{ skuId: SKU_A }], removeLicenses: [] })).toThrow(/usage location/);
  });

  it("when a disabled plan is not part of the SKU, or a SKU is added twice, then 400", () => {
    const { dir, user } = setup({ b: 0 });
    expect(() => assignLicense(dir, user(1), { addLicenses: [{ skuId: SKU_A, disabledPlans: [PLAN_B1] }], removeLicenses: [] })).toThrow(/not part of the license/);
    expect(() => assignLicense(dir, user(1), { addLicenses: [{ skuId: SKU_A }], removeLicenses: [SKU_A] })).toThrow(/same SKU/);
  });
});

describe("group-based licensing", () => {
  it("when a licensed group has more direct members than units, then the last ones get CountViolation and consume nothing", () => {
    const { dir, user } = setup({ b: 2 });
    const states = [1, 2, 3].map((n) => user(n).licenses.find((l) => l.assignedByGroup === GROUP));
    expect(states.map((s) => [s?.state, s?.error])).toEqual([["Active", "None"], ["Active", "None"], ["Error", "CountViolation"]]);
    expect(dir.skus.get(SKU_B)?.consumedUnits).toBe(2);
    expect(assignedLicensesOf(user(3).licenses)).toEqual([]);
  });

  it("when a direct license conflicts with the group's, then the group state is MutuallyExclusiveViolation; removing it lets the group license through", () => {
    const { dir, user } = setup({ b: 0 });
    assignLicense(dir, user(1), { addLicenses: [{ skuId: SKU_A }], removeLicenses: [] });
    dir.skus.get(SKU_B)!.prepaidUnits.enabled = 5;
    evaluateGroupLicenses(dir, user(1));
    expect(user(1).licenses.find((l) => l.assignedByGroup === GROUP)).toMatchObject({ state: "Error", error: "MutuallyExclusiveViolation" });
    assignLicense(dir, user(1), { addLicenses: [], removeLicenses: [SKU_A] });
    expect(user(1).licenses.find((l) => l.assignedByGroup === GROUP)).toMatchObject({ state: "Active", error: "None" });
  });

  it("when a user is soft-deleted and restored, then its units are released and taken again", () => {
    const { dir, user } = setup();
    expect(dir.skus.get(SKU_B)?.consumedUnits).toBe(3);
    dir.softDeleteUser(user(1));
    expect(dir.skus.get(SKU_B)?.consumedUnits).toBe(2);
    dir.restoreUser(user(1));
    expect(dir.skus.get(SKU_B)?.consumedUnits).toBe(3);
    dir.hardDeleteUser(user(2));
    expect(dir.skus.get(SKU_B)?.consumedUnits).toBe(2);
    expect(dir.groups.get(GROUP)?.members.has(id(12))).toBe(false);
  });

  it("when a user is a member only through a nested group, then no group license arrives", () => {
    const { dir, user } = setup();
    const outer = dir.addGroup({ id: id(301), displayName: "Outer", description: null, securityEnabled: true, mailEnabled: false, groupTypes: [], assignedLicenses: [{ skuId: SKU_A, disabledPlans: [] }] });
    const inner = dir.addGroup({ id: id(302), displayName: "Inner", description: null, securityEnabled: true, mailEnabled: false, groupTypes: [], assignedLicenses: [] });
    dir.addMembers(outer, [inner.id]);
    dir.addMembers(inner, [user(4).id]);
    evaluateGroupLicenses(dir, user(4));
    expect(user(4).licenses).toEqual([]);
    expect(dir.transitiveMembers(outer)).toEqual([inner.id, user(4).id]);
  });
});
