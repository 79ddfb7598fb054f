import { GraphError, type PageCollection } from "@microsoft/microsoft-graph-client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEMO_IDS, DEMO_PLANS, DEMO_SKUS, demoUserId } from "../../../local/sim-cloud/demo-tenant.js";
import { startTestSim, type TestSim } from "./support.js";

let t: TestSim;
beforeAll(async () => {
  t = await startTestSim({ rateLimits: false });
});
afterAll(async () => {
  await t.sim.close();
});
beforeEach(() => {
  t.sim.reset();
});

/** The n-th demo user (see local/sim-cloud/demo-tenant.ts). */
const demoUser = demoUserId;

interface LicenseStateJson {
  skuId: string;
  disabledPlans: string[];
  assignedByGroup: string | null;
  state: string;
  error: string;
  lastUpdatedDateTime: string;
}

async function assign(userId: string, body: unknown): Promise<Record<string, unknown>> {
  return (await t.graph.api(`/users/${userId}/assignLicense`).post(body)) as Record<string, unknown>;
}

async function assignError(userId: string, body: unknown): Promise<{ status: number; code: string | null; message: string }> {
  try {
    await assign(userId, body);
  } catch (err) {
    if (err instanceof GraphError) return { status: err.statusCode, code: err.code, message: err.message };
    throw err;
  }
  throw new Error("assignLicense unexpectedly succeeded");
}

async function consumed(skuId: string): Promise<number> {
  const skus = (await t.graph.api("/subscribedSkus").get()) as PageCollection;
  return (skus.value.find((s: { skuId: string }) => s.skuId === skuId) as { consumedUnits: number }).consumedUnits;
}

async function states(userId: string): Promise<LicenseStateJson[]> {
  const u = (await t.graph.api(`/users/${userId}`).select("licenseAssignmentStates,assignedLicenses,assignedPlans").get()) as { licenseAssignmentStates: LicenseStateJson[] };
  return u.licenseAssignmentStates;
}

describe("Graph assignLicense", () => {
  it("when a license with available units is added, then assignedLicenses, a direct Active state and consumedUnits change, and the user is returned", async () => {
    const userId = demoUser(21);
    const before = await consumed(DEMO_SKUS.powerAppsPerUser);
    const user = await assign(userId, { addLicenses: [{ skuId: DEMO_SKUS.powerAppsPerUser, disabledPlans: [] }], removeLicenses: [] });
    expect(user.id).toBe(userId);
    expect(await consumed(DEMO_SKUS.powerAppsPerUser)).toBe(before + 1);
    const state = (await states(userId)).find((s) => s.skuId === DEMO_SKUS.powerAppsPerUser);
    expect(state).toMatchObject({ assignedByGroup: null, state: "Active", error: "None", disabledPlans: [] });
    expect(Date.parse(state!.lastUpdatedDateTime)).toBeGreaterThan(Date.now() - 60_000);
    const plans = ((await t.graph.api(`/users/${userId}`).select("assignedPlans").get()) as { assignedPlans: Array<{ servicePlanId: string; assignedDateTime: string; capabilityStatus: string }> }).assignedPlans;
    expect(plans.find((p) => p.servicePlanId === DEMO_PLANS.powerAppsPerUser)).toMatchObject({ capabilityStatus: "Enabled" });
  });

  it("when an assigned SKU is sent again with other disabledPlans, then its plan list is replaced and no unit is consumed", async () => {
    const userId = demoUser(21);
    await assign(userId, { addLicenses: [{ skuId: DEMO_SKUS.powerAppsPerUser, disabledPlans: [DEMO_PLANS.flowForPowerApps] }], removeLicenses: [] });
    const after1 = await consumed(DEMO_SKUS.powerAppsPerUser);
    await assign(userId, { addLicenses: [{ skuId: DEMO_SKUS.powerAppsPerUser, disabledPlans: [DEMO_PLANS.dataverseP2] }], removeLicenses: [] });
    expect(await consumed(DEMO_SKUS.powerAppsPerUser)).toBe(after1);
    const state = (await states(userId)).find((s) => s.skuId === DEMO_SKUS.powerAppsPerUser);
    expect(state?.disabledPlans).toEqual([DEMO_PLANS.dataverseP2]);
    const details = (await t.graph.api(`/users/${userId}/licenseDetails`).get()) as PageCollection;
    const pa = details.value.find((d: { skuId: string }) => d.skuId === DEMO_SKUS.powerAppsPerUser) as { servicePlans: Array<{ servicePlanId: string; provisioningStatus: string }> };
    expect(pa.servicePlans.find((p) => p.servicePlanId === DEMO_PLANS.dataverseP2)?.provisioningStatus).toBe("Disabled");
  });

  it("when a direct license is removed, then it returns to the pool", async () => {
    const userId = demoUser(20);
    const before = await consumed(DEMO_SKUS.office365E3);
    await assign(userId, { addLicenses: [], removeLicenses: [DEMO_SKUS.office365E3] });
    expect(await consumed(DEMO_SKUS.office365E3)).toBe(before - 1);
    expect((await states(userId)).some((s) => s.skuId === DEMO_SKUS.office365E3)).toBe(false);
  });

  it("when the SKU has no available licenses, then 400 says so", async () => {
    const err = await assignError(demoUser(20), { addLicenses: [{ skuId: DEMO_SKUS.powerAutomatePremium }], removeLicenses: [] });
    expect(err.status).toBe(400);
    expect(err.message).toBe(`Subscription with SKU ${DEMO_SKUS.powerAutomatePremium} does not have any available licenses.`);
  });

  it("when the user has no usage location, then 400 invalid usage location", async () => {
    const err = await assignError(DEMO_IDS.users.noUsageLocation, { addLicenses: [{ skuId: DEMO_SKUS.powerAppsPerUser }], removeLicenses: [] });
    expect(err.status).toBe(400);
    expect(err.message).toBe("License assignment cannot be done for user with invalid usage location.");
  });

  it("when service plans are mutually exclusive, then 400 names both plans", async () => {
    const err = await assignError(demoUser(20), { addLicenses: [{ skuId: DEMO_SKUS.exchangePlan1 }], removeLicenses: [] });
    expect(err.status).toBe(400);
    expect(err.message).toContain("mutually exclusive");
    expect(err.message).toContain(DEMO_PLANS.exchangeStandard);
    expect(err.message).toContain(DEMO_PLANS.exchangeEnterprise);
    // Disabling the conflicting plan makes it acceptable.
    await assign(demoUser(20), { addLicenses: [{ skuId: DEMO_SKUS.office365E3, disabledPlans: [DEMO_PLANS.exchangeEnterprise] }], removeLicenses: [] });
    await assign(demoUser(20), { addLicenses: [{ skuId: DEMO_SKUS.exchangePlan1 }], removeLicenses: [] });
  });

  it("when a plan's prerequisite is missing, then 400 names the dependency", async () => {
    const err = await assignError(demoUser(59), { addLicenses: [{ skuId: DEMO_SKUS.teamsPhone }], removeLicenses: [] });
    expect(err.status).toBe(400);
    expect(err.message).toContain(`service plan ${DEMO_PLANS.teamsPhone} depends on`);
    await assign(demoUser(20), { addLicenses: [{ skuId: DEMO_SKUS.teamsPhone }], removeLicenses: [] });
  });

  it("when a group-inherited license is removed directly, then 400 says it is inherited from a group", async () => {
    const userId = demoUser(101);
    expect((await states(userId)).find((s) => s.skuId === DEMO_SKUS.powerAppsPerUser)?.assignedByGroup).toBe(DEMO_IDS.groups.powerAppsLicensing);
    const err = await assignError(userId, { addLicenses: [], removeLicenses: [DEMO_SKUS.powerAppsPerUser] });
    expect(err.status).toBe(400);
    expect(err.message).toBe("User license is inherited from a group membership and it cannot be removed directly from the user.");
  });

  it("when the SKU is unknown, then 400 says it is not a valid company license", async () => {
    const sku = "11111111-2222-4333-8444-555555555555";
    const err = await assignError(demoUser(20), { addLicenses: [{ skuId: sku }], removeLicenses: [] });
    expect(err.status).toBe(400);
    expect(err.message).toBe(`License ${sku} does not correspond to a valid company License.`);
  });

  it("when the SKU belongs to a self-service purchase, then the assignment is refused with 403", async () => {
    const err = await assignError(demoUser(20), { addLicenses: [{ skuId: DEMO_SKUS.powerBiProSelfService }], removeLicenses: [] });
    expect(err.status).toBe(403);
    expect(err.code).toBe("Authorization_RequestDenied");
  });

  it("when the body is not an assignLicense body or the user is unknown, then 400 / 404", async () => {
    const res = await t.call(`${t.sim.graphBaseUrl}/v1.0/users/${demoUser(20)}/assignLicense`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ addLicenses: [] }) });
    expect(res.status).toBe(400);
    const missing = await assignError("00000000-0000-4000-8000-0000000000aa", { addLicenses: [], removeLicenses: [] });
    expect(missing.status).toBe(404);
  });
});

describe("group-based licensing", () => {
  it("when a licensed group has more members than units, or conflicting plans, then the failures show in licenseAssignmentStates[].error", async () => {
    const coE = await Promise.all([131, 132, 133, 134, 135, 136, 137, 138].map((n) => states(demoUser(n))));
    const premium = coE.map((s) => s.find((x) => x.skuId === DEMO_SKUS.powerAutomatePremium));
    expect(premium.filter((s) => s?.state === "Active")).toHaveLength(5);
    const failed = premium.filter((s) => s?.state === "Error");
    expect(failed).toHaveLength(3);
    expect(failed.every((s) => s?.error === "CountViolation" && s.assignedByGroup === DEMO_IDS.groups.automationCoE)).toBe(true);

    const exch = (await states(demoUser(140))).find((s) => s.skuId === DEMO_SKUS.exchangePlan1);
    expect(exch).toMatchObject({ state: "Error", error: "MutuallyExclusiveViolation", assignedByGroup: DEMO_IDS.groups.exchangePlan1Licensing });
    const user = (await t.graph.api(`/users/${demoUser(140)}`).select("assignedLicenses").get()) as { assignedLicenses: Array<{ skuId: string }> };
    expect(user.assignedLicenses.map((l) => l.skuId)).not.toContain(DEMO_SKUS.exchangePlan1);
  });

  it("when units are added to the SKU, then failed group assignments are reprocessed", async () => {
    expect((await t.admin("PATCH", `/skus/${DEMO_SKUS.powerAutomatePremium}`, { prepaidUnits: { enabled: 10 } })).status).toBe(200);
    const after = await Promise.all([136, 137, 138].map((n) => states(demoUser(n))));
    expect(after.map((s) => s.find((x) => x.skuId === DEMO_SKUS.powerAutomatePremium)?.state)).toEqual(["Active", "Active", "Active"]);
    expect(await consumed(DEMO_SKUS.powerAutomatePremium)).toBe(8);
  });

  it("when a user joins or leaves a licensed group, then the group license is added or removed", async () => {
    const userId = demoUser(22);
    await t.admin("PATCH", `/groups/${DEMO_IDS.groups.powerAppsLicensing}/members`, { add: [userId] });
    expect((await states(userId)).find((s) => s.assignedByGroup === DEMO_IDS.groups.powerAppsLicensing)?.state).toBe("Active");
    await t.admin("PATCH", `/groups/${DEMO_IDS.groups.powerAppsLicensing}/members`, { remove: [userId] });
    expect((await states(userId)).some((s) => s.assignedByGroup === DEMO_IDS.groups.powerAppsLicensing)).toBe(false);
  });
});
