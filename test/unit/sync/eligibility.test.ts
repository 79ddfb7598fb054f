import { describe, expect, it } from "vitest";
import { decide } from "../../../shared/sync/decide.js";
import { evaluateEligibility, type EligibilityInput, type RuleId } from "../../../shared/sync/eligibility.js";
import type { DirectoryUser } from "../../../shared/sync/model.js";
import { environment, facts, GROUP, PLANS, rowFor, SKUS, user } from "./fixtures.js";

function evaluate(u: DirectoryUser | null, overrides: Partial<EligibilityInput> = {}) {
  return evaluateEligibility({ user: u, userId: u?.id ?? "9f000000-0000-4000-8000-000000000001", tenant: facts(), environment: environment(), ...overrides });
}

const failed = (e: ReturnType<typeof evaluate>, onDemand = false): RuleId[] =>
  e.rules.filter((r) => !(onDemand ? r.passedOnDemand : r.passed)).map((r) => r.id);

const unlicensed = { licenses: [] };

describe("D2 eligibility: each condition", () => {
  it("when a licensed member of the group is enabled in Entra, then the periodic sync adds and keeps them (read-write)", () => {
    const e = evaluate(user());
    expect(e).toMatchObject({ addInBackground: true, addOnDemand: true, keep: true, reenableInBackground: true, accessMode: "readWrite" });
  });

  it("when the account is disabled in Entra, then the user is not eligible in any mode, with the lever to unblock sign-in", () => {
    const e = evaluate(user({ accountEnabled: false }));
    expect(e).toMatchObject({ addInBackground: false, addOnDemand: false, keep: false });
    expect(failed(e, true)).toEqual(["D2.accountEnabled"]);
    expect(e.rules.find((r) => r.id === "D2.accountEnabled")?.lever).toMatch(/sign-in/i);
  });

  it("when the user is soft-deleted, then not eligible; when Entra does not know the user at all, then not eligible either", () => {
    expect(failed(evaluate(user({ removed: "soft" })), true)).toContain("D2.notDeleted");
    const gone = evaluate(null);
    expect(gone.keep).toBe(false);
    expect(failed(gone, true)).toContain("D2.notDeleted");
  });

  it("when the user holds no license that gives Dataverse access, then not eligible, and the lever is to assign one", () => {
    const e = evaluate(user({ licenses: [{ skuId: SKUS.exchange, disabledPlans: [] }] }));
    expect(e).toMatchObject({ addInBackground: false, addOnDemand: false, keep: false });
    expect(failed(e, true)).toEqual(["D2.license"]);
    expect(e.rules.find((r) => r.id === "D2.license")?.lever).toMatch(/Assign a license/);
  });

  it("when the product's Dataverse plan is switched off for the user, or the subscription is suspended, then the license does not count", () => {
    expect(failed(evaluate(user({ licenses: [{ skuId: SKUS.powerApps, disabledPlans: [PLANS.powerApps] }] })))).toEqual(["D2.license"]);
    expect(failed(evaluate(user({ licenses: [{ skuId: SKUS.suspended, disabledPlans: [] }] })))).toEqual(["D2.license"]);
  });

  it("when the user is not a direct member of the environment's security group, then not eligible, with the lever naming the group", () => {
    const e = evaluate(user({ groups: [] }));
    expect(failed(e, true)).toEqual(["D2.securityGroup"]);
    expect(e.rules.find((r) => r.id === "D2.securityGroup")?.lever).toContain(GROUP);
  });

  it("when the environment has no security group, then membership is not asked for", () => {
    expect(evaluate(user({ groups: [] }), { environment: environment({}, { securityGroupId: null }) }).addInBackground).toBe(true);
  });

  it("when an unlicensed guest is added on demand where the environment has app passes or the tenant a Marketing license, then not eligible: those exceptions are not a license of this tenant", () => {
    const guest = user({ userType: "Guest", ...unlicensed });
    const appPasses = evaluate(guest, { environment: environment({ appPassCapacity: true }), addPath: "firstAccess" });
    expect(appPasses).toMatchObject({ addInBackground: false, addOnDemand: false, keep: false });
    expect(failed(appPasses, true)).toEqual(["D2.license"]);
    expect(appPasses.rules.find((r) => r.id === "D2.license")?.lever).toMatch(/do not cover guests/);
    const marketing = evaluate(guest, { tenant: facts({}, [{ skuId: "66666666-6666-4666-8666-666666666666", skuPartNumber: "DYN365_MARKETING_APP" }]), addPath: "api" });
    expect(marketing.addOnDemand).toBe(false);
    // A member still gets both exceptions; a guest's Microsoft 365 license of this tenant with a free Dataverse plan still counts on demand.
    expect(evaluate(user(unlicensed), { environment: environment({ appPassCapacity: true }) }).addOnDemand).toBe(true);
    expect(evaluate(user({ userType: "Guest", licenses: [{ skuId: SKUS.m365FreeDataverse, disabledPlans: [] }] }), { environment: environment({ appPassCapacity: true }) }).addOnDemand).toBe(true);
  });

  it("when a guest holds a license of this tenant, then eligible; without one, then not, and the lever says the license must be this tenant's", () => {
    expect(evaluate(user({ userType: "Guest" })).addInBackground).toBe(true);
    const e = evaluate(user({ userType: "Guest", ...unlicensed }));
    expect(e.keep).toBe(false);
    expect(e.rules.find((r) => r.id === "D2.license")?.lever).toMatch(/license of this tenant/);
  });
});

describe("D2 eligibility: the exceptions", () => {
  it("when a Global Administrator has no license and is not in the group, then eligible with administrative access mode", () => {
    const u = user({ ...unlicensed, groups: [] });
    const e = evaluate(u, { tenant: facts({ admins: { global: [u.id], powerPlatform: [], dynamics: [] } }) });
    expect(e).toMatchObject({ addInBackground: true, keep: true, accessMode: "administrative" });
  });

  it("when a Power Platform Administrator has no license and is not in the group, then eligible with administrative access mode", () => {
    const u = user({ ...unlicensed, groups: [] });
    const e = evaluate(u, { tenant: facts({ admins: { global: [], powerPlatform: [u.id], dynamics: [] } }) });
    expect(e).toMatchObject({ addInBackground: true, keep: true, accessMode: "administrative" });
  });

  it("when a Dynamics 365 Administrator has no license, then the license is not needed but group membership is", () => {
    const u = user({ ...unlicensed, groups: [] });
    const tenant = facts({ admins: { global: [], powerPlatform: [], dynamics: [u.id] } });
    const outside = evaluate(u, { tenant });
    expect(outside.keep).toBe(false);
    expect(failed(outside, true)).toEqual(["D2.securityGroup"]);
    expect(outside.rules.find((r) => r.id === "D2.securityGroup")?.lever).toMatch(/Dynamics 365 administrators are not exempt/);
    const inside = evaluate({ ...u, groups: [GROUP] }, { tenant });
    expect(inside).toMatchObject({ addInBackground: true, keep: true, accessMode: "administrative" });
  });

  it("when a licensed administrator is evaluated, then the access mode is read-write", () => {
    const u = user();
    expect(evaluate(u, { tenant: facts({ admins: { global: [u.id], powerPlatform: [], dynamics: [] } }) }).accessMode).toBe("readWrite");
  });

  it("when the environment has app-pass capacity, then an unlicensed user may be added on demand but not by the periodic sync", () => {
    const e = evaluate(user(unlicensed), { environment: environment({ appPassCapacity: true }) });
    expect(e).toMatchObject({ addInBackground: false, addOnDemand: true });
    expect(e.rules.find((r) => r.id === "D2.license")?.exception).toMatch(/app-pass/);
  });

  it("when the tenant has a tenant-level Marketing license, then an unlicensed user may be added on demand only", () => {
    const e = evaluate(user(unlicensed), { tenant: facts({}, [{ skuId: "66666666-6666-4666-8666-666666666666", skuPartNumber: "DYN365_MARKETING_APP" }]) });
    expect(e).toMatchObject({ addInBackground: false, addOnDemand: true });
  });

  it("when the user's only Dataverse plan is Microsoft 365's free one, then on-demand adds honour it and the periodic sync does not", () => {
    const e = evaluate(user({ licenses: [{ skuId: SKUS.m365FreeDataverse, disabledPlans: [] }] }));
    expect(e).toMatchObject({ addInBackground: false, addOnDemand: true, keep: true });
    expect(e.rules.find((r) => r.id === "D2.license")?.data).toMatchObject({ freeDataversePlanLicenses: ["O365_BUSINESS"] });
  });

  it("when a non-interactive user has no license, then it stays eligible - but the security group still applies", () => {
    const record = { kind: "nonInteractive" as const };
    expect(evaluate(user(unlicensed), { record }).keep).toBe(true);
    expect(evaluate(user({ ...unlicensed, groups: [] }), { record }).keep).toBe(false);
    expect(evaluate(user(unlicensed), { record: { kind: "regular" } }).keep).toBe(false);
  });

  it("when the user owns the security group without being a member, then an on-demand add counts them as a member, the periodic sync does not", () => {
    const u = user({ groups: [] });
    const e = evaluate(u, { tenant: facts({ owners: { [GROUP]: [u.id] } }) });
    expect(e).toMatchObject({ addInBackground: false, addOnDemand: true });
  });
});

describe("D5 environment types", () => {
  it.each(["Production", "Sandbox", "Default"] as const)("when the environment is %s, then the periodic sync adds eligible users", (type) => {
    expect(evaluate(user(), { environment: environment({ type }) }).addInBackground).toBe(true);
  });

  it("when the environment is a Trial, then users come only on demand, while existing ones are kept and re-enabled", () => {
    const e = evaluate(user(), { environment: environment({ type: "Trial" }) });
    expect(e).toMatchObject({ addInBackground: false, addOnDemand: true, keep: true, reenableInBackground: true });
    expect(e.rules.find((r) => r.id === "D5.addPath")?.lever).toMatch(/on demand/);
  });

  it("when the environment is a Developer one, then only its creator is eligible", () => {
    const creator = user();
    const env = environment({ type: "Developer", createdBy: creator.id }, { securityGroupId: null });
    expect(evaluate(creator, { environment: env }).addInBackground).toBe(true);
    const other = evaluate(user(), { environment: env });
    expect(other.keep).toBe(false);
    expect(failed(other, true)).toEqual(["D5.environment"]);
  });

  it("when the environment is Dataverse for Teams, then a first access adds the user, an admin's API add does not, and neither does the periodic sync", () => {
    const teams = environment({ type: "Teams" });
    const firstAccess = evaluate(user(), { environment: teams, addPath: "firstAccess" });
    expect(firstAccess).toMatchObject({ addInBackground: false, addOnDemand: true, keep: true });
    const api = evaluate(user(), { environment: teams, addPath: "api" });
    expect(api).toMatchObject({ addInBackground: false, addOnDemand: false, keep: true, reenableInBackground: true });
    expect(failed(api, true)).toEqual(["D5.addPath"]);
    const path = api.rules.find((r) => r.id === "D5.addPath");
    expect(path?.lever).toMatch(/only at their first access/);
    expect(path?.lever).not.toMatch(/POST/);
    // Elsewhere the API still adds.
    expect(evaluate(user(), { environment: environment({ type: "Trial" }), addPath: "api" }).addOnDemand).toBe(true);
  });

  it("when the environment is Dataverse for Teams, then D2's license rule still holds (no Teams exception): an unlicensed member is not added at first access; Microsoft 365's free Dataverse plan is honoured", () => {
    const teams = environment({ type: "Teams" });
    const e = evaluate(user(unlicensed), { environment: teams, addPath: "firstAccess" });
    expect(e).toMatchObject({ addOnDemand: false, keep: false });
    expect(failed(e, true)).toEqual(["D2.license"]);
    const free = evaluate(user({ licenses: [{ skuId: SKUS.m365FreeDataverse, disabledPlans: [] }] }), { environment: teams, addPath: "firstAccess" });
    expect(free).toMatchObject({ addOnDemand: true, keep: true });
  });

  it("when the platform does not name a Developer environment's creator, then no one is added (on demand or in the background) and no record is disabled or re-enabled on that account", () => {
    const env = environment({ type: "Developer", createdBy: null }, { securityGroupId: null });
    const u = user();
    const e = evaluate(u, { environment: env });
    expect(e).toMatchObject({ addInBackground: false, addOnDemand: false, keep: true, reenableInBackground: false });
    expect(evaluate(u, { environment: env, addPath: "firstAccess" }).addOnDemand).toBe(false);
    const rule = e.rules.find((r) => r.id === "D5.environment");
    expect(rule).toMatchObject({ passed: false, passedOnDemand: false, data: { createdBy: null, creatorKnown: false } });
    expect(rule?.lever).toMatch(/does not name the environment's creator/);
    // The periodic sync plans no disable for the existing (enabled) record - the real creator's may be among them - nor an add, nor a re-enable.
    const plan = (row: ReturnType<typeof rowFor> | null) =>
      decide({ userId: u.id, user: u, row, eligibility: evaluate(u, { environment: env, record: row ? { kind: "regular" } : null }), internalEmailLocked: false }).action;
    expect(plan(rowFor(u))).toBeNull();
    expect(plan(rowFor(u, { isdisabled: true }))).toBeNull();
    expect(plan(null)).toBeNull();
    // Another rule failing still disables, and names only that rule.
    expect(decide({ userId: u.id, user: { ...u, accountEnabled: false }, row: rowFor(u), eligibility: evaluate({ ...u, accountEnabled: false }, { environment: env, record: { kind: "regular" } }), internalEmailLocked: false }).action)
      .toMatchObject({ op: "disable", failedRules: ["D2.accountEnabled"] });
  });

  it("when the environment has no Dataverse database, then no user at all", () => {
    const e = evaluate(user(), { environment: environment({}, null) });
    expect(e).toMatchObject({ addInBackground: false, addOnDemand: false, keep: false });
    expect(e.rules.find((r) => r.id === "D5.environment")?.lever).toMatch(/no Dataverse database/);
  });
});

describe("judging without explanation (the periodic sync: explain: false)", () => {
  const ME = "9f000000-0000-4000-8000-0000000000aa";
  const users: [string, DirectoryUser | null][] = [
    ["a licensed member", user({ id: ME })],
    ["a disabled account", user({ id: ME, accountEnabled: false })],
    ["a soft-deleted user", user({ id: ME, removed: "soft" })],
    ["a user Entra does not know", null],
    ["a guest with the free Dataverse plan only", user({ id: ME, userType: "Guest", licenses: [{ skuId: SKUS.m365FreeDataverse, disabledPlans: [] }] })],
    ["an unlicensed guest", user({ id: ME, userType: "Guest", ...unlicensed })],
    ["an unlicensed member", user({ id: ME, ...unlicensed })],
    ["a license with its access plan disabled", user({ id: ME, licenses: [{ skuId: SKUS.powerApps, disabledPlans: [PLANS.powerApps] }] })],
    ["a suspended product only", user({ id: ME, licenses: [{ skuId: SKUS.suspended, disabledPlans: [] }] })],
    ["a licensed user outside the group", user({ id: ME, groups: [] })],
    ["an unlicensed user outside the group", user({ id: ME, groups: [], ...unlicensed })],
  ];
  const tenants = [
    ["no admins", facts()],
    ["the user a Global Administrator and the group's owner, a Marketing license", facts({ admins: { global: [ME], powerPlatform: [], dynamics: [] }, owners: { [GROUP]: [ME] }, marketing: true })],
    ["the user a Dynamics 365 Administrator", facts({ admins: { global: [], powerPlatform: [], dynamics: [ME] } })],
    ["the user the group's owner", facts({ owners: { [GROUP]: [ME] } })],
  ] as const;
  const environments = [
    environment(),
    environment({ appPassCapacity: true }, { securityGroupId: null }),
    environment({ type: "Sandbox" }),
    environment({ type: "Trial" }),
    environment({ type: "Developer", createdBy: ME }),
    environment({ type: "Developer", createdBy: null }),
    environment({ type: "Teams" }),
    environment({ type: "Default" }),
    environment({}, null),
  ];
  const verdict = (e: ReturnType<typeof evaluate>) => ({
    ...e,
    rules: e.rules.map((r) => ({ id: r.id, title: r.title, passed: r.passed, passedOnDemand: r.passedOnDemand, addOnly: r.addOnly })),
  });

  it.each(users)("when the user is %s, then in every tenant, environment type and record kind the verdicts are those of the explained judgement", (_what, u) => {
    let judged = 0;
    for (const [, tenant] of tenants) {
      for (const env of environments) {
        for (const record of [null, { kind: "regular" as const }, { kind: "nonInteractive" as const }]) {
          const input = { user: u, userId: ME, tenant, environment: env, record };
          const explained = evaluateEligibility(input);
          const quiet = evaluateEligibility({ ...input, explain: false });
          expect(verdict(quiet)).toEqual(verdict(explained));
          expect(quiet.rules.every((r) => r.lever === undefined && r.exception === undefined && Object.keys(r.data).length === 0)).toBe(true);
          judged++;
        }
      }
    }
    expect(judged).toBe(tenants.length * environments.length * 3);
  });
});
