import { describe, expect, it } from "vitest";
import { KNOWN_APPS } from "../../../shared/autoclaim/apps.js";
import type { PolicyDocument } from "../../../shared/autoclaim/policy.js";
import { claimPlan } from "../../../shared/autoclaim/processor.js";
import type { Catalog } from "../../../shared/licenses/model.js";

const PER_USER = "4a51bf65-409c-4a91-b845-1121b571cc9d";
const PREMIUM = "eda1941c-3c4f-4995-b5eb-e85a42175ab9";
const product = (skuId: string, skuPartNumber: string) => ({
  skuId, skuPartNumber, displayName: skuPartNumber, kind: "paid" as const, status: "Enabled" as const, renewalDate: null, total: 10, assigned: 0, available: 10, appliesTo: "User", servicePlans: [],
});
const catalog: Catalog = { tenantId: "t", refreshedAt: "", products: [product(PER_USER, "FLOW_PER_USER"), product(PREMIUM, "POWERAUTOMATE_ATTENDED_RPA")] };
const policy = (over: Partial<PolicyDocument> = {}): PolicyDocument => ({
  id: "p", type: "policy", tenantId: "t", name: "Flows", appId: KNOWN_APPS.powerAutomate.appId, enabled: true,
  products: [{ skuId: PER_USER, disabledPlans: [] }, { skuId: PREMIUM, disabledPlans: [] }],
  createdAt: "", createdBy: "", updatedAt: "", updatedBy: "", ...over,
});
const app = KNOWN_APPS.powerAutomate.appId;

describe("whether an event may claim, and from which products", () => {
  it("when the feature is off (A1), then nothing is claimed, whatever the policy says", () => {
    expect(claimPlan(false, policy(), "premium-flow-run", app, catalog)).toEqual({ skip: expect.objectContaining({ code: "auto-claim-off" }) });
  });

  it("when the app has no policy or its policy is disabled (A5), then nothing is claimed", () => {
    expect(claimPlan(true, undefined, "premium-flow-run", app, catalog)).toEqual({ skip: expect.objectContaining({ code: "no-policy" }) });
    expect(claimPlan(true, policy({ enabled: false }), "premium-flow-run", app, catalog)).toEqual({ skip: expect.objectContaining({ code: "policy-disabled" }) });
  });

  it("when a policy stored before the apps were an enumeration names another app, then it claims nothing (app-not-served)", () => {
    const other = "22222222-2222-4222-8222-222222222222";
    expect(claimPlan(true, policy({ appId: other }), "sign-in", other, catalog)).toEqual({ skip: expect.objectContaining({ code: "app-not-served" }) });
  });

  it("when a flow is run, then every product in policy order; when an RPA flow is run, then only the Premium product (A9)", () => {
    const flow = claimPlan(true, policy(), "premium-flow-run", app, catalog);
    expect("products" in flow && flow.products.map((p) => p.skuId)).toEqual([PER_USER, PREMIUM]);
    const rpa = claimPlan(true, policy(), "rpa-flow-save", app, catalog);
    expect("products" in rpa && rpa.products.map((p) => p.skuId)).toEqual([PREMIUM]);
    const perUserOnly = claimPlan(true, policy({ products: [{ skuId: PER_USER, disabledPlans: [] }] }), "rpa-flow-run", app, catalog);
    expect(perUserOnly).toEqual({ skip: expect.objectContaining({ code: "trigger-not-qualifying" }) });
  });
});
