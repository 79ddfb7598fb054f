import { describe, expect, it } from "vitest";
import {
  buildDemoTenant, buildLargeTenant, DEMO_IDS, DEMO_SKUS, DEMO_TENANT_ID, LARGE_GROUP_ID, largeTenantUserId,
} from "../../../local/sim-cloud/demo-tenant.js";
import { DirectoryRoleTemplateIds, parseFixture } from "../../../local/sim-cloud/state/fixture.js";
import { TenantState } from "../../../local/sim-cloud/state/tenant-state.js";

describe("the demo tenant", () => {
  const fixture = parseFixture(buildDemoTenant());
  const state = new TenantState(fixture);
  const dir = state.directory;

  it("when built twice, then it is the same document (deterministic ids)", () => {
    expect(JSON.stringify(buildDemoTenant())).toBe(JSON.stringify(buildDemoTenant()));
    expect(fixture.tenant.id).toBe(DEMO_TENANT_ID);
  });

  it("when loaded, then it has 300+ users of every kind the product cares about", () => {
    const users = [...dir.users.values()];
    expect(users.length).toBeGreaterThanOrEqual(300);
    expect(users.filter((u) => u.userType === "Guest").length).toBeGreaterThanOrEqual(10);
    expect(users.filter((u) => !u.accountEnabled).length).toBeGreaterThan(0);
    expect(users.filter((u) => u.deletedDateTime).length).toBeGreaterThan(0);
    expect(users.filter((u) => !u.usageLocation).length).toBeGreaterThan(0);
    for (const role of Object.values(DirectoryRoleTemplateIds)) expect(dir.roles.get(role)?.members.size).toBeGreaterThan(0);
    expect(dir.servicePrincipals.size).toBeGreaterThanOrEqual(2);
  });

  it("when loaded, then products cover paid, trial, free, self-service and scarce, with exclusive plans and a prerequisite", () => {
    expect(dir.skuOrder.length).toBeGreaterThanOrEqual(6);
    expect(dir.skus.get(DEMO_SKUS.powerAppsTrial)?.subscription.isTrial).toBe(true);
    expect(dir.skus.get(DEMO_SKUS.powerAutomateFree)?.skuPartNumber).toBe("FLOW_FREE");
    expect(dir.skus.get(DEMO_SKUS.powerBiProSelfService)?.subscription.ownerType).toBe("User");
    expect(dir.availableUnits(dir.skus.get(DEMO_SKUS.powerAutomatePremium)!)).toBe(0);
    expect(dir.mutuallyExclusive.length).toBeGreaterThan(0);
    expect(dir.dependencies.size).toBeGreaterThan(0);
    const errors = [...dir.users.values()].flatMap((u) => u.licenses.filter((l) => l.error !== "None").map((l) => l.error));
    expect(new Set(errors)).toEqual(new Set(["CountViolation", "MutuallyExclusiveViolation"]));
    for (const sku of dir.skuOrder) expect(sku.consumedUnits).toBeLessThanOrEqual(sku.prepaidUnits.enabled + sku.prepaidUnits.warning);
  });

  it("when loaded, then every environment type exists and Dataverse holds the special user kinds", () => {
    const skus = [...state.environments.values()].map((e) => e.meta.environmentSku);
    for (const kind of ["Production", "Sandbox", "Trial", "Developer", "Teams", "Default"]) expect(skus).toContain(kind);
    expect(state.environment(DEMO_IDS.environments.noDataverse)?.db).toBeNull();
    expect(state.environment(DEMO_IDS.environments.developer)?.meta.createdBy).toBe(DEMO_IDS.users.developerCreator);
    const prod = state.environment(DEMO_IDS.environments.production)!.db!;
    const rows = prod.order.map((r) => r.data);
    expect(rows.some((r) => r.applicationid !== null)).toBe(true);
    for (const mode of [3, 4, 5]) expect(rows.some((r) => r.accessmode === mode)).toBe(true);
    expect(rows.some((r) => r.isdisabled === true && r.azureactivedirectoryobjectid === null && r.fullname === "Former Employee")).toBe(true);
    expect(state.signIns.length).toBeGreaterThanOrEqual(5);
  });

  it("when the nested Sales EMEA group is in Sales, then it is a direct member group and its users are not direct members", () => {
    const sales = dir.groups.get(DEMO_IDS.groups.sales)!;
    expect(sales.members.has(DEMO_IDS.groups.salesEmea)).toBe(true);
    expect(dir.transitiveMembers(sales).length).toBeGreaterThan(dir.visibleMembers(sales).length);
  });
});

describe("the large tenant", () => {
  it("when 100,000 users and a 60,000-member group are generated, then counts are right and loading works", () => {
    const fx = buildLargeTenant({ users: 100_000, groupMembers: 60_000, dataverseUsers: 1000 });
    const state = new TenantState(fx);
    expect(state.directory.users.size).toBe(100_006);
    expect(state.directory.groups.get(LARGE_GROUP_ID)?.members.size).toBe(60_000);
    expect(state.directory.users.has(largeTenantUserId(100_000))).toBe(true);
    expect([...state.environments.values()][0]?.db?.users.size).toBe(1000);
  });

  it("when it is generated, then 80% of its users are licensed and every 97th is disabled", () => {
    const fx = buildLargeTenant({ users: 1000, groupMembers: 100 });
    const large = (fx.users ?? []).filter((u) => u.userPrincipalName.endsWith("@large-sim.onmicrosoft.com"));
    expect(large).toHaveLength(1000);
    expect(large.filter((u) => u.licenses.length > 0)).toHaveLength(800);
    expect(large.filter((u) => !u.accountEnabled)).toHaveLength(10);
  });
});
