import { buildCatalog } from "../../../shared/licenses/catalog.js";
import type { GraphLicenseState, GraphSku, GraphSubscription, GraphUser } from "../../../shared/licenses/graph-licensing.js";
import type { Catalog } from "../../../shared/licenses/model.js";

/** A small catalog and users for the pure rules (ids are readable GUIDs). */
export const P = {
  exA: "00000000-0000-4000-8000-0000000000a1",
  exB: "00000000-0000-4000-8000-0000000000b1",
  teams: "00000000-0000-4000-8000-0000000000a2",
  phone: "00000000-0000-4000-8000-0000000000c1",
  apps: "00000000-0000-4000-8000-0000000000d1",
  appsO365: "00000000-0000-4000-8000-0000000000a3",
  viral: "00000000-0000-4000-8000-0000000000e1",
} as const;

export const S = {
  e3: "10000000-0000-4000-8000-000000000001",
  exPlan1: "10000000-0000-4000-8000-000000000002",
  phone: "10000000-0000-4000-8000-000000000003",
  apps: "10000000-0000-4000-8000-000000000004",
  trial: "10000000-0000-4000-8000-000000000005",
  selfService: "10000000-0000-4000-8000-000000000006",
  free: "10000000-0000-4000-8000-000000000007",
} as const;

const plan = (servicePlanId: string, servicePlanName: string) => ({ servicePlanId, servicePlanName, provisioningStatus: "Success", appliesTo: "User" });
const sku = (skuId: string, skuPartNumber: string, plans: ReturnType<typeof plan>[], enabled = 10, consumed = 0): GraphSku => ({
  skuId, skuPartNumber, appliesTo: "User", capabilityStatus: "Enabled", consumedUnits: consumed,
  prepaidUnits: { enabled, warning: 0, suspended: 0, lockedOut: 0 }, servicePlans: plans,
});
const sub = (skuId: string, extra: Partial<GraphSubscription> = {}): GraphSubscription => ({
  skuId, skuPartNumber: null, isTrial: false, status: "Enabled", nextLifecycleDateTime: "2027-01-01T00:00:00Z", ownerType: null, totalLicenses: 10, ...extra,
});

export const SKUS: GraphSku[] = [
  sku(S.e3, "ENTERPRISEPACK", [plan(P.exA, "EXCHANGE_S_ENTERPRISE"), plan(P.teams, "MCOSTANDARD"), plan(P.appsO365, "POWERAPPS_O365_P2")], 10, 4),
  sku(S.exPlan1, "EXCHANGESTANDARD", [plan(P.exB, "EXCHANGE_S_STANDARD")]),
  sku(S.phone, "MCOEV", [plan(P.phone, "MCOEV")]),
  sku(S.apps, "POWERAPPS_PER_USER", [plan(P.apps, "POWERAPPS_PER_USER")], 2, 2),
  sku(S.trial, "POWERAPPS_VIRAL", [plan(P.viral, "POWERAPPS_P2_VIRAL")], 100),
  sku(S.selfService, "POWER_BI_PRO", [plan("00000000-0000-4000-8000-0000000000f1", "BI_AZURE_P2")], 3),
  sku(S.free, "FLOW_FREE", [plan("00000000-0000-4000-8000-0000000000f2", "FLOW_P2_VIRAL")], 100),
];
export const SUBSCRIPTIONS: GraphSubscription[] = [
  sub(S.e3), sub(S.exPlan1), sub(S.phone), sub(S.apps, { nextLifecycleDateTime: "2026-12-31T00:00:00Z" }),
  sub(S.trial, { isTrial: true }), sub(S.selfService, { ownerType: "User" }), sub(S.free, { nextLifecycleDateTime: null }),
];

export const catalog: Catalog = buildCatalog("t", SKUS, SUBSCRIPTIONS, new Date("2026-01-01T00:00:00Z"));

export const direct = (skuId: string, disabledPlans: string[] = []): GraphLicenseState => ({
  skuId, assignedByGroup: null, disabledPlans, state: "Active", error: "None", lastUpdatedDateTime: null,
});
export const inherited = (skuId: string, groupId: string, error = "None"): GraphLicenseState => ({
  skuId, assignedByGroup: groupId, disabledPlans: [], state: error === "None" ? "Active" : "Error", error, lastUpdatedDateTime: null,
});

export function user(states: GraphLicenseState[], extra: Partial<GraphUser> = {}): GraphUser {
  return {
    id: "20000000-0000-4000-8000-000000000001", displayName: "Ada", userPrincipalName: "ada@contoso.example", mail: "ada@contoso.example",
    userType: "Member", usageLocation: "NL", accountEnabled: true,
    assignedLicenses: states.filter((s) => s.state === "Active").map((s) => ({ skuId: s.skuId, disabledPlans: s.disabledPlans })),
    licenseAssignmentStates: states, assignedPlans: [], ...extra,
  };
}
