import { describe, expect, it } from "vitest";
import { evaluateEligibility } from "../../../shared/sync/eligibility.js";
import { classifyPlan, classifySkus, licenseStanding } from "../../../shared/sync/licensing.js";
import { environment, facts, user } from "./fixtures.js";

/** D2: which service plans give Dataverse access, and which only count for on-demand adds. */
const cls = (servicePlanName: string) => classifyPlan({ servicePlanId: "00000000-0000-4000-8000-000000000000", servicePlanName });

describe("D2 service plan classification", () => {
  it("when a plan is a Power Platform use right of a Microsoft 365 / Office 365 license, then it counts only for on-demand adds", () => {
    const bundled = [
      "POWERAPPS_O365_P1", "POWERAPPS_O365_P2", "POWERAPPS_O365_P3", "POWERAPPS_O365_S1",
      "FLOW_O365_P1", "FLOW_O365_P2", "FLOW_O365_P3", "FLOW_O365_S1",
      "POWER_VIRTUAL_AGENTS_O365_P1", "POWER_VIRTUAL_AGENTS_O365_P2", "POWER_VIRTUAL_AGENTS_O365_P3", "POWER_VIRTUAL_AGENTS_O365_F1",
      "DYN365_CDS_O365_P1", "DYN365_CDS_O365_P2", "DYN365_CDS_O365_P3", "DYN365_CDS_O365_F1", "CDS_O365_P3", "CDS_O365_E5_KM",
      // Government variants and casing as Graph may spell them.
      "POWERAPPS_O365_P3_GOV", "FLOW_O365_S1_GOV", "DYN365_CDS_O365_F1_GCC", "CDS_O365_F1_GCC", "flow_o365_p2",
      // Project Plan 1's Power Automate, next to its free Dataverse plan.
      "POWER_AUTOMATE_FOR_PROJECT_P1", "Power_Automate_For_Project_P1", "DYN365_CDS_FOR_PROJECT_P1",
    ];
    for (const name of bundled) expect(cls(name), name).toBe("freeDataverse");
  });

  it("when a plan belongs to a Power Platform or Dynamics 365 product of its own, then it grants access", () => {
    const standalone = [
      "POWERAPPS_PER_USER", "DYN365_CDS_P2", "Flow_PowerApps_PerUser", "FLOW_PER_USER", "POWER_AUTOMATE_ATTENDED_RPA", "CDS_ATTENDED_RPA",
      "DYN365_ENTERPRISE_SALES", "DYN365_ENTERPRISE_P1", "D365_SALES_PRO", "CRMSTANDARD", "POWERAPPS_DYN_APPS", "FLOW_DYN_APPS", "CCIBOTS_PRIVPREV_VIRAL",
      // Trials and free self-service sign-ups (Power Apps Plan 2 Trial, Power Automate Free): licenses while assigned.
      "POWERAPPS_P2_VIRAL", "FLOW_P2_VIRAL", "DYN365_CDS_VIRAL",
    ];
    for (const name of standalone) expect(cls(name), name).toBe("grantsAccess");
  });

  it("when a plan is of another service, then it gives nothing in Dataverse", () => {
    for (const name of ["EXCHANGE_S_ENTERPRISE", "TEAMS1", "SHAREPOINTENTERPRISE", "BI_AZURE_P2", "PROJECT_O365_P3", "STREAM_O365_E3", "MCOEV"]) {
      expect(cls(name), name).toBe("none");
    }
  });
});

describe("D2 a user holding Office 365 E3 only", () => {
  const E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900";
  const e3Sku = classifySkus([{
    skuId: E3, skuPartNumber: "ENTERPRISEPACK", capabilityStatus: "Enabled",
    servicePlans: [
      { servicePlanId: "efb87545-963c-4e0d-99df-69c6916d9eb0", servicePlanName: "EXCHANGE_S_ENTERPRISE" },
      { servicePlanId: "76846ad7-7776-4c40-a281-a386362dd1b9", servicePlanName: "FLOW_O365_P2" },
      { servicePlanId: "c68f8d98-5534-41c8-bf36-22fa496fa792", servicePlanName: "POWERAPPS_O365_P2" },
    ],
  }]).skus;
  const tenant = { ...facts(), skus: { ...facts().skus, ...e3Sku } };
  const e3Only = user({ licenses: [{ skuId: E3, disabledPlans: [] }] });

  it("when their licenses are sorted, then E3 is a free-Dataverse-plan license, not a granting one", () => {
    expect(licenseStanding(e3Only.licenses, tenant)).toEqual({ granting: [], freeDataverseOnly: ["ENTERPRISEPACK"], other: [], grantingPlansDisabled: [] });
  });

  it("when their eligibility is judged, then the periodic sync may not add them and an on-demand add may; an existing record is kept", () => {
    const e = evaluateEligibility({ user: e3Only, userId: e3Only.id, tenant, environment: environment() });
    expect(e).toMatchObject({ addInBackground: false, addOnDemand: true, reenableInBackground: false, keep: true });
    expect(e.rules.find((r) => r.id === "D2.license")).toMatchObject({ passed: false, passedOnDemand: true });
  });
});

describe("D2/D10 a license whose Dataverse plans are switched off for the user", () => {
  const PER_USER = "b30411f5-fea1-4a59-9ad9-3db7c7ead579";
  const PLAN = "ea2cf03b-ac60-46ae-9c1d-eeaeb63cec86";
  const sku = classifySkus([{
    skuId: PER_USER, skuPartNumber: "POWERAPPS_PER_USER", capabilityStatus: "Enabled",
    servicePlans: [{ servicePlanId: PLAN, servicePlanName: "POWERAPPS_PER_USER" }, { servicePlanId: "efb87545-963c-4e0d-99df-69c6916d9eb0", servicePlanName: "EXCHANGE_S_ENTERPRISE" }],
  }]).skus;
  const tenant = { ...facts(), skus: { ...facts().skus, ...sku } };
  const plansOff = user({ licenses: [{ skuId: PER_USER, disabledPlans: [PLAN] }] });

  it("when the diagnostics explain the license rule, then they name the product and its disabled plans, and the lever is to enable them (not to assign a license the user holds)", () => {
    const e = evaluateEligibility({ user: plansOff, userId: plansOff.id, tenant, environment: environment() });
    const rule = e.rules.find((r) => r.id === "D2.license");
    expect(rule).toMatchObject({ passed: false, data: { licensesWithAccessPlansDisabled: [{ product: "POWERAPPS_PER_USER", skuId: PER_USER, servicePlanIds: [PLAN] }] } });
    expect(rule?.lever).toMatch(new RegExp(`holds POWERAPPS_PER_USER.*${PLAN}.*disabled.*enable them.*licenses/${PER_USER}`));
  });
});
