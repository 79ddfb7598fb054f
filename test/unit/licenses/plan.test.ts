import { describe, expect, it } from "vitest";
import { systemActor, type AuditActor } from "../../../shared/licenses/actor.js";
import { planChange, type PlannedChange } from "../../../shared/licenses/plan.js";
import { DEFAULT_LICENSE_RULES, firstViolation, type LicenseRules } from "../../../shared/licenses/rules.js";
import { catalog, direct, inherited, P, S, user } from "./fixtures.js";

const admin: AuditActor = { type: "user", id: "a", directoryRoles: ["License Administrator"] };
const globalAdmin: AuditActor = { type: "user", id: "g", directoryRoles: ["Global Administrator"] };
const RULES: LicenseRules = {
  mutuallyExclusive: [{ servicePlanIds: [P.exA, P.exB] }],
  prerequisites: [{ servicePlanId: P.phone, requiresAnyOf: [P.teams] }],
};
const GROUP = "30000000-0000-4000-8000-000000000001";

function plan(states: Parameters<typeof user>[0], change: Omit<Parameters<typeof planChange>[0]["change"], "userId">, opts: { mode?: "add" | "replace"; actor?: AuditActor; extra?: Parameters<typeof user>[1]; rules?: LicenseRules } = {}): PlannedChange {
  return planChange({
    user: user(states, opts.extra), change: { userId: "u", ...change }, mode: opts.mode ?? "add", catalog, rules: opts.rules ?? RULES, actor: opts.actor ?? admin,
  });
}
const code = (p: PlannedChange) => (p.ok ? "ok" : p.error.code);

describe("planChange (L3-L10, L15)", () => {
  it("when a license the user holds directly is added, then it is not sent again (its disabled plans would be reset)", () => {
    const p = plan([direct(S.e3, [P.teams])], { add: [{ skuId: S.e3, disabledPlans: [] }, { skuId: S.free }] });
    expect(p.ok && p.call).toEqual({ userId: "20000000-0000-4000-8000-000000000001", addLicenses: [{ skuId: S.free, disabledPlans: [] }], removeLicenses: [] });
    expect(p.ok && p.plan.unchanged.map((u) => u.skuId)).toEqual([S.e3]);
  });

  it("when everything asked is already so, then there is nothing to send", () => {
    const p = plan([direct(S.e3)], { add: [{ skuId: S.e3 }] });
    expect(p.ok && p.call).toBeNull();
  });

  it("when a license held only through a group is added, then it is added directly and takes no new unit", () => {
    const p = plan([inherited(S.apps, GROUP)], { add: [{ skuId: S.apps }] });
    expect(p.ok && p.plan.add.map((a) => a.skuId)).toEqual([S.apps]);
    expect(p.ok && p.newUnits).toEqual([]);
  });

  it("when the mode is replace, then direct licenses not listed are removed and inherited ones stay", () => {
    const p = plan([direct(S.e3), direct(S.trial), inherited(S.apps, GROUP)], { add: [{ skuId: S.e3 }] }, { mode: "replace" });
    expect(p.ok && p.plan.remove).toEqual([S.trial]);
    expect(p.ok && p.plan.unchanged.map((u) => u.skuId).sort()).toEqual([S.e3, S.apps].sort());
    expect(p.ok && p.freedUnits).toEqual([S.trial]);
  });

  it("when the mode is replace and the user holds a self-service license, then it is kept, not removed", () => {
    const p = plan([direct(S.e3), direct(S.selfService)], { add: [{ skuId: S.e3 }] }, { mode: "replace" });
    expect(p.ok && p.plan.remove).toEqual([]);
  });

  it("when an inherited license is removed, then 409 naming the group (L15)", () => {
    const p = plan([inherited(S.apps, GROUP)], { remove: [S.apps] });
    expect(code(p)).toBe("group-inherited-license");
    expect(!p.ok && p.error.status).toBe(409);
  });

  it("when a license the user does not hold is removed, then nothing is sent", () => {
    expect(plan([direct(S.e3)], { remove: [S.trial] })).toMatchObject({ ok: true, call: null });
  });

  it("when plans are set on a held license, then it is re-sent with exactly those plans (L5); on an inherited one, 409", () => {
    const p = plan([direct(S.e3, [P.teams])], { setPlans: [{ skuId: S.e3, disabledPlans: [] }] });
    expect(p.ok && p.call?.addLicenses).toEqual([{ skuId: S.e3, disabledPlans: [] }]);
    expect(code(plan([inherited(S.e3, GROUP)], { setPlans: [{ skuId: S.e3, disabledPlans: [P.teams] }] }))).toBe("group-inherited-license");
    expect(code(plan([], { setPlans: [{ skuId: S.e3, disabledPlans: [] }] }))).toBe("license-not-assigned");
  });

  it("when plans are set without a list (a merge patch leaving it out), then nothing is sent and the plans stay; a license not held is still 409", () => {
    const p = plan([direct(S.e3, [P.teams])], { setPlans: [{ skuId: S.e3 }] });
    expect(p.ok && p.call).toBeNull();
    expect(p.ok && p.plan.unchanged).toEqual([{ skuId: S.e3, reason: "no change of its service plans was asked for" }]);
    expect(code(plan([], { setPlans: [{ skuId: S.e3 }] }))).toBe("license-not-assigned");
  });

  it("when a product is not in the tenant, a plan is not in the product, or it is a self-service purchase, then 422", () => {
    expect(code(plan([], { add: [{ skuId: "90000000-0000-4000-8000-000000000009" }] }))).toBe("unknown-product");
    expect(code(plan([], { add: [{ skuId: S.e3, disabledPlans: [P.apps] }] }))).toBe("unknown-service-plan");
    expect(code(plan([], { add: [{ skuId: S.selfService }] }))).toBe("self-service-subscription");
    expect(code(plan([direct(S.selfService)], { remove: [S.selfService] }))).toBe("self-service-subscription");
    // Refused whoever holds it: a user without it gets the same answer (a multi-user request is then refused as a whole).
    expect(code(plan([], { remove: [S.selfService] }))).toBe("self-service-subscription");
    expect(code(plan([], { remove: ["90000000-0000-4000-8000-000000000009"] }))).toBe("unknown-product");
    // A license the user holds directly is removed even when the catalog does not know its product.
    expect(code(plan([direct("90000000-0000-4000-8000-000000000009")], { remove: ["90000000-0000-4000-8000-000000000009"] }))).toBe("ok");
  });

  it("when the user has no usage location, then adding is refused (L8) but removing is not", () => {
    expect(code(plan([], { add: [{ skuId: S.free }] }, { extra: { usageLocation: null } }))).toBe("usage-location-missing");
    expect(code(plan([direct(S.free)], { remove: [S.free] }, { extra: { usageLocation: null } }))).toBe("ok");
  });

  it("when the user is a guest, then only a Global Administrator may change their licenses; the product may only take them away (L9)", () => {
    const guest = { extra: { userType: "Guest" } };
    expect(code(plan([], { add: [{ skuId: S.free }] }, guest))).toBe("guest-needs-global-administrator");
    expect(code(plan([], { add: [{ skuId: S.free }] }, { ...guest, actor: globalAdmin }))).toBe("ok");
    expect(code(plan([], { add: [{ skuId: S.free }] }, { ...guest, actor: systemActor("auto-claim") }))).toBe("guest-needs-global-administrator");
    expect(code(plan([direct(S.trial)], { remove: [S.trial] }, { ...guest, actor: systemActor("trial-expiry") }))).toBe("ok");
  });

  it("when the rules table says two plans exclude each other or one needs another, then 422 before Graph (L6)", () => {
    expect(code(plan([direct(S.e3)], { add: [{ skuId: S.exPlan1 }] }))).toBe("conflicting-service-plans");
    expect(code(plan([direct(S.e3, [P.exA])], { add: [{ skuId: S.exPlan1 }] }))).toBe("ok");
    expect(code(plan([], { add: [{ skuId: S.phone }] }))).toBe("missing-prerequisite-plan");
    expect(code(plan([direct(S.e3)], { add: [{ skuId: S.phone }] }))).toBe("ok");
    expect(code(plan([direct(S.e3), direct(S.phone)], { remove: [S.e3] }))).toBe("missing-prerequisite-plan");
    expect(code(plan([], { add: [{ skuId: S.phone }] }, { rules: { mutuallyExclusive: [], prerequisites: [] } }))).toBe("ok");
  });

  it("when a unit is needed, then the plan says which products take a new one", () => {
    const p = plan([direct(S.e3)], { add: [{ skuId: S.apps }, { skuId: S.free }] });
    expect(p.ok && p.newUnits.sort()).toEqual([S.apps, S.free].sort());
  });
});

describe("firstViolation", () => {
  it("when a conflict already existed and the change does not touch it, then it is not this change's fault", () => {
    const both = new Set([P.exA, P.exB]);
    expect(firstViolation(RULES, both, both)).toBeUndefined();
    expect(firstViolation(RULES, new Set([P.exA]), both)).toMatchObject({ kind: "mutuallyExclusive" });
  });

  it("when the shipped defaults are read, then they name real Microsoft plan ids", () => {
    expect(DEFAULT_LICENSE_RULES.mutuallyExclusive[0]?.servicePlanIds).toContain("efb87545-963c-4e0d-99df-69c6916d9eb0");
  });
});
