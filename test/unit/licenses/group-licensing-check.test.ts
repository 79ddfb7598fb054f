import { describe, expect, it } from "vitest";
import type { LicensingFailureInput } from "../../../shared/alerts/alerts.js";
import { checkGroupLicensing } from "../../../shared/licenses/group-licensing-check.js";
import { graphUserSchema, type LicensingGraph } from "../../../shared/licenses/graph-licensing.js";
import type { Catalog } from "../../../shared/licenses/model.js";

const GROUP = "9a9a9a9a-0000-4000-8000-000000000001";
const SKU = "4a51bf65-409c-4a91-b845-1121b571cc9d";
const member = (n: number, error: string) =>
  graphUserSchema.parse({
    id: `00000000-0000-4000-8000-00000000000${n}`, displayName: `U${n}`, userPrincipalName: `u${n}@x`,
    licenseAssignmentStates: [{ skuId: SKU, assignedByGroup: GROUP, state: "Error", error, disabledPlans: [], lastUpdatedDateTime: null }],
    assignedPlans: [], assignedLicenses: [],
  });
const catalog = { tenantId: "t", refreshedAt: "", products: [{ skuId: SKU, skuPartNumber: "FLOW_PER_USER", displayName: "Power Automate per user" }] } as unknown as Catalog;

async function alertsFor(errors: string[]): Promise<LicensingFailureInput[]> {
  const graph = {
    listLicensedGroups: () => Promise.resolve([{ id: GROUP, displayName: "Flows", skuIds: [SKU] }]),
    listGroupMemberUsers: () => Promise.resolve({ items: errors.map((e, i) => member(i + 1, e)), skipToken: null }),
  } as unknown as LicensingGraph;
  const raised: LicensingFailureInput[] = [];
  await checkGroupLicensing({ graph, catalog, raise: (a) => (raised.push(a), Promise.resolve()) }, "t");
  return raised;
}

describe("L18 scan of group-based licensing errors", () => {
  it("when a group's users fail for one reason, then one alert names the group and gives that reason", async () => {
    const [alert, ...more] = await alertsFor(["CountViolation", "CountViolation"]);
    expect(more).toEqual([]);
    expect(alert).toMatchObject({ source: "group-licensing", code: "group-licensing-error", groupId: GROUP, userIds: [expect.any(String), expect.any(String)] });
    expect(alert?.message).toMatch(/"Flows".*CountViolation\. Not enough licenses/);
  });

  it("when a group's users fail for different reasons, then the one alert lists them and points to the report instead of giving one reason for all", async () => {
    const [alert] = await alertsFor(["CountViolation", "DependencyViolation"]);
    expect(alert?.message).toMatch(/CountViolation, DependencyViolation\. The L20 report gives each user's reason/);
    expect(alert?.message).not.toMatch(/Not enough licenses/);
  });
});
