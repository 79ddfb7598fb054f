import { describe, expect, it } from "vitest";
import { graphFailureToError } from "../../../shared/licenses/assign.js";
import { assignedDateTimeOf, productIndex, trialExpiry } from "../../../shared/licenses/license-state.js";
import { licenseTypeFor } from "../../../shared/licenses/reports.js";
import { userLicenses } from "../../../shared/licenses/user-view.js";
import { catalog, direct, inherited, P, S, user } from "./fixtures.js";

const products = productIndex(catalog);

describe("trials (L11)", () => {
  it("when a trial was assigned, then it expires 90 days later, and the user's licenses show it", () => {
    const u = user([direct(S.trial)], { assignedPlans: [{ servicePlanId: P.viral, assignedDateTime: "2025-12-01T10:00:00Z", capabilityStatus: "Enabled" }] });
    expect(assignedDateTimeOf(u, S.trial, products)).toBe("2025-12-01T10:00:00Z");
    expect(trialExpiry("2025-12-01T10:00:00Z", new Date("2026-03-01T09:59:59Z"))).toEqual({ expiresAt: "2026-03-01T10:00:00.000Z", expired: false });
    expect(trialExpiry("2025-12-01T10:00:00Z", new Date("2026-03-01T10:00:00Z")).expired).toBe(true);
    expect(userLicenses(u, catalog, new Date("2026-02-01T00:00:00Z"))[0]?.trial).toEqual({ expiresAt: "2026-03-01T10:00:00.000Z", expired: false });
  });

  it("when a plan is shared with an older license, then the product's own plans date it (never ended early)", () => {
    const u = user([direct(S.e3), direct(S.apps)], {
      assignedPlans: [
        { servicePlanId: P.appsO365, assignedDateTime: "2024-01-01T00:00:00Z", capabilityStatus: "Enabled" },
        { servicePlanId: P.apps, assignedDateTime: "2026-01-01T00:00:00Z", capabilityStatus: "Enabled" },
      ],
    });
    expect(assignedDateTimeOf(u, S.apps, products)).toBe("2026-01-01T00:00:00Z");
  });
});

describe("license type (L13)", () => {
  it("when licensed several ways, then the most specific way is reported; a disabled plan does not count", () => {
    expect(licenseTypeFor(user([direct(S.e3)]), "powerApps", products)).toBe("office365");
    expect(licenseTypeFor(user([direct(S.e3), direct(S.apps)]), "powerApps", products)).toBe("standalone");
    expect(licenseTypeFor(user([direct(S.trial)]), "powerApps", products)).toBe("trial");
    expect(licenseTypeFor(user([direct(S.e3, [P.appsO365])]), "powerApps", products)).toBeUndefined();
    expect(licenseTypeFor(user([inherited(S.apps, "g", "CountViolation")]), "powerApps", products)).toBeUndefined();
  });

  it("when the only Power Automate license is the free tracking plan, then it is a free plan as the catalog says - not a trial, although its plan is named like one", () => {
    expect(products.get(S.free)?.kind).toBe("free");
    expect(licenseTypeFor(user([direct(S.free)]), "powerAutomate", products)).toBe("free");
  });
});

describe("Graph's refusals map to the rules' errors (L6-L8, L10, L15)", () => {
  const call = { userId: "u", addLicenses: [{ skuId: S.exPlan1, disabledPlans: [] }], removeLicenses: [] };
  const refuse = (status: number, message: string) => graphFailureToError({ ok: false, status, code: "Request_BadRequest", message }, call, catalog);

  it("when Graph names the reason, then the same problem code as the check before Graph", () => {
    expect(refuse(400, `License assignment failed because service plans ${P.exB},${P.exA} are mutually exclusive.`)).toMatchObject({
      code: "conflicting-service-plans", status: 422, extensions: { servicePlans: [{ servicePlanName: "EXCHANGE_S_STANDARD" }, { servicePlanName: "EXCHANGE_S_ENTERPRISE" }] },
    });
    expect(refuse(400, `License assignment failed because service plan ${P.phone} depends on the service plan(s) ${P.teams}.`).code).toBe("missing-prerequisite-plan");
    expect(refuse(400, `Subscription with SKU ${S.exPlan1} does not have any available licenses.`)).toMatchObject({ code: "not-enough-licenses", extensions: { skuId: S.exPlan1, shortBy: 1 } });
    expect(refuse(400, "License assignment cannot be done for user with invalid usage location.").code).toBe("usage-location-missing");
    expect(refuse(400, "User license is inherited from a group membership and it cannot be removed directly from the user.").status).toBe(409);
    expect(refuse(429, "Too many requests")).toMatchObject({ kind: "unavailable", status: 503 });
    expect(refuse(400, "Something new").kind).toBe("upstream");
  });

  it("when Graph throttles a call (429, 503), then nothing was applied; a 504, or a throttled retry of one, leaves it unknown", () => {
    const answer = (status: number, uncertain = false) =>
      graphFailureToError({ ok: false, status, code: "", message: "", ...(uncertain ? { uncertain: true as const } : {}) }, call, catalog);
    expect(answer(429).extensions).toMatchObject({ applied: false });
    expect(answer(503).extensions).toMatchObject({ applied: false });
    expect(answer(504).extensions).not.toHaveProperty("applied");
    expect(answer(429, true).extensions).not.toHaveProperty("applied");
    expect(answer(504).message).toMatch(/not known/);
  });

  it("when Graph refuses a self-service product with 403, then it is the self-service error", () => {
    const selfService = graphFailureToError({ ok: false, status: 403, code: "Authorization_RequestDenied", message: "denied" }, { ...call, addLicenses: [{ skuId: S.selfService, disabledPlans: [] }] }, catalog);
    expect(selfService.code).toBe("self-service-subscription");
  });
});
