import { describe, expect, it } from "vitest";
import { KNOWN_APPS } from "../../../shared/autoclaim/apps.js";
import { coveringProduct, productLicensesApp, productQualifies, triggerQualifies } from "../../../shared/autoclaim/triggers.js";
import { graphUserSchema } from "../../../shared/licenses/graph-licensing.js";
import type { Catalog, Product } from "../../../shared/licenses/model.js";

describe("which triggers claim (A8, A9)", () => {
  it("when a Power Apps event is a premium or managed-environment app launch, then it qualifies; a plain sign-in does not", () => {
    const app = KNOWN_APPS.powerApps.appId;
    expect(triggerQualifies(app, "premium-app-launch").qualifies).toBe(true);
    expect(triggerQualifies(app, "managed-environment-app-launch").qualifies).toBe(true);
    expect(triggerQualifies(app, "sign-in").qualifies).toBe(false);
    expect(triggerQualifies(app, "premium-flow-run").qualifies).toBe(false);
  });

  it("when a Power Automate flow is run, saved or turned on (premium or RPA), then it qualifies; a sign-in does not", () => {
    const app = KNOWN_APPS.powerAutomate.appId;
    for (const t of ["premium-flow-run", "premium-flow-save", "premium-flow-turn-on", "rpa-flow-run", "rpa-flow-save", "rpa-flow-turn-on"] as const) {
      expect(triggerQualifies(app, t).qualifies, t).toBe(true);
    }
    expect(triggerQualifies(app, "sign-in").qualifies).toBe(false);
  });

  it("when an RPA trigger meets a per-user plan, then only the Premium plan may serve it; other triggers take any product", () => {
    expect(productQualifies("rpa-flow-run", "FLOW_PER_USER")).toBe(false);
    expect(productQualifies("rpa-flow-run", "POWERAUTOMATE_ATTENDED_RPA")).toBe(true);
    expect(productQualifies("premium-flow-run", "FLOW_PER_USER")).toBe(true);
  });

  it("when any other app signs a user in, then the sign-in qualifies; a first access never claims", () => {
    const other = "11111111-2222-4333-8444-555555555555";
    expect(triggerQualifies(other, "sign-in").qualifies).toBe(true);
    expect(triggerQualifies(other, "first-access").qualifies).toBe(false);
    expect(triggerQualifies(KNOWN_APPS.powerApps.appId, "first-access").qualifies).toBe(false);
  });
});

describe("a license that already covers the app (A8, A9)", () => {
  const product = (skuId: string, skuPartNumber: string, plans: string[]): Product => ({
    skuId, skuPartNumber, displayName: skuPartNumber, kind: "paid", status: "Enabled", renewalDate: null, total: 10, assigned: 0, available: 10, appliesTo: "User",
    servicePlans: plans.map((name) => ({ servicePlanId: `plan-${name.toLowerCase()}`, servicePlanName: name, provisioningStatus: "Success", appliesTo: "User" })),
  });
  const catalog: Catalog = {
    tenantId: "t",
    refreshedAt: "2026-12-06T00:00:00Z",
    products: [
      product("perflow", "FLOW_PER_USER", ["FLOW_PER_USER", "DYN365_CDS_P2"]),
      product("premium", "POWERAUTOMATE_ATTENDED_RPA", ["POWER_AUTOMATE_ATTENDED_RPA", "CDS_ATTENDED_RPA"]),
      product("apps", "POWERAPPS_PER_USER", ["POWERAPPS_PER_USER", "Flow_PowerApps_PerUser"]),
      product("e3", "ENTERPRISEPACK", ["POWERAPPS_O365_P2", "FLOW_O365_P2"]),
      product("e5", "ENTERPRISEPREMIUM", ["BI_AZURE_P2", "POWERAPPS_O365_P3", "FLOW_O365_P3"]),
      product("ppu", "PBI_PREMIUM_PER_USER", ["BI_AZURE_P3", "BI_AZURE_P2"]),
    ],
  };
  const holding = (skuId: string, disabledPlans: string[] = [], state = "Active") =>
    graphUserSchema.parse({ id: "u", assignedLicenses: [{ skuId, disabledPlans }], licenseAssignmentStates: [{ skuId, disabledPlans, assignedByGroup: null, state, error: "None" }] });
  const flows = KNOWN_APPS.powerAutomate.appId;
  const apps = KNOWN_APPS.powerApps.appId;

  it("when the user holds Power Automate per user, then premium flows are covered but the attended-RPA triggers are not (only Premium serves them)", () => {
    expect(coveringProduct(holding("perflow"), flows, "premium-flow-run", catalog)?.skuId).toBe("perflow");
    expect(coveringProduct(holding("perflow"), flows, "rpa-flow-run", catalog)).toBeUndefined();
    expect(coveringProduct(holding("premium"), flows, "rpa-flow-save", catalog)?.skuId).toBe("premium");
  });

  it("when the user holds Power Apps Premium, then Power Apps is covered and Power Automate is not (its flow plan covers flows inside its apps only)", () => {
    expect(coveringProduct(holding("apps"), apps, "premium-app-launch", catalog)?.skuId).toBe("apps");
    expect(coveringProduct(holding("apps"), flows, "premium-flow-run", catalog)).toBeUndefined();
  });

  it("when the covering plan is disabled, the license is not active, or it is an Office 365 plan, then it does not cover; other apps have no covering plans", () => {
    expect(coveringProduct(holding("apps", ["plan-powerapps_per_user"]), apps, "premium-app-launch", catalog)).toBeUndefined();
    expect(coveringProduct(holding("apps", [], "Disabled"), apps, "premium-app-launch", catalog)).toBeUndefined();
    expect(coveringProduct(holding("e3"), apps, "premium-app-launch", catalog)).toBeUndefined();
    expect(coveringProduct(holding("apps"), "9f1c5c6e-0000-4000-8000-000000000000", "sign-in", catalog)).toBeUndefined();
  });

  it("when the user holds Power BI Pro (alone or in Office 365 E5), then Power BI is covered: a Power BI policy does not spend a license on them", () => {
    const bi = KNOWN_APPS.powerBi.appId;
    expect(coveringProduct(holding("e5"), bi, "sign-in", catalog)?.skuId).toBe("e5");
    expect(coveringProduct(holding("e5", ["plan-bi_azure_p2"]), bi, "sign-in", catalog)).toBeUndefined();
    expect(coveringProduct(holding("e3"), bi, "sign-in", catalog)).toBeUndefined();
  });
});

describe("which products a policy for an app may name (A2)", () => {
  const product = (plans: string[]): Product => ({
    skuId: "s", skuPartNumber: "S", displayName: "S", kind: "paid", status: "Enabled", renewalDate: null, total: 10, assigned: 0, available: 10, appliesTo: "User",
    servicePlans: plans.map((name) => ({ servicePlanId: `plan-${name.toLowerCase()}`, servicePlanName: name, provisioningStatus: "Success", appliesTo: "User" })),
  });
  const { powerApps, powerAutomate, powerBi } = KNOWN_APPS;

  it("when a product includes the app's own plan, switched on, then it licenses the app; Office 365, trial and free plans, or the plan switched off, do not", () => {
    expect(productLicensesApp(product(["POWERAPPS_PER_USER", "DYN365_CDS_P2"]), [], powerApps.appId)).toBe(true);
    expect(productLicensesApp(product(["POWERAPPS_PER_USER", "DYN365_CDS_P2"]), ["plan-dyn365_cds_p2"], powerApps.appId)).toBe(true);
    expect(productLicensesApp(product(["POWERAPPS_PER_USER"]), ["PLAN-POWERAPPS_PER_USER"], powerApps.appId)).toBe(false);
    expect(productLicensesApp(product(["POWERAPPS_O365_P2", "FLOW_O365_P2"]), [], powerApps.appId)).toBe(false);
    expect(productLicensesApp(product(["POWERAPPS_P2_VIRAL", "FLOW_P2_VIRAL"]), [], powerApps.appId)).toBe(false);
    expect(productLicensesApp(product(["FLOW_P2_VIRAL"]), [], powerAutomate.appId)).toBe(false);
    expect(productLicensesApp(product(["FLOW_PER_USER"]), [], powerAutomate.appId)).toBe(true);
    expect(productLicensesApp(product(["POWER_AUTOMATE_ATTENDED_RPA"]), [], powerAutomate.appId)).toBe(true);
    expect(productLicensesApp(product(["FLOW_PER_USER"]), [], powerBi.appId)).toBe(false);
    expect(productLicensesApp(product(["BI_AZURE_P3", "BI_AZURE_P2"]), ["plan-bi_azure_p3"], powerBi.appId)).toBe(true);
  });
});
