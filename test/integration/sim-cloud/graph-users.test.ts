import { GraphError, PageIterator, type PageCollection } from "@microsoft/microsoft-graph-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_IDS, DEMO_SKUS } from "../../../local/sim-cloud/demo-tenant.js";
import { DirectoryRoleTemplateIds } from "../../../local/sim-cloud/state/fixture.js";
import { startTestSim, type TestSim } from "./support.js";

let t: TestSim;
beforeAll(async () => {
  t = await startTestSim({ rateLimits: false });
});
afterAll(async () => {
  await t.sim.close();
});

interface GraphUser {
  id: string;
  displayName?: string;
  userType?: string;
  accountEnabled?: boolean;
  [k: string]: unknown;
}

async function graphStatus(p: Promise<unknown>): Promise<{ statusCode: number; code: string | null; message: string }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof GraphError) return { statusCode: err.statusCode, code: err.code, message: err.message };
    throw err;
  }
  throw new Error("expected a Graph error");
}

describe("Graph users", () => {
  it("when PageIterator walks /users with $top=40, then it follows several nextLinks and sees every active user once", async () => {
    const first = (await t.graph.api("/users").top(40).select("id,displayName").get()) as PageCollection;
    expect(first.value).toHaveLength(40);
    expect(first["@odata.nextLink"]).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/graph\/v1\.0\/users\?/);
    expect(first["@odata.context"]).toContain("$metadata#users(id,displayName)");
    const ids: string[] = [];
    let pages = 0;
    const counted = { before: t.sim.counters().graph.byKind["users.list"] ?? 0 };
    const iterator = new PageIterator(t.graph, first, (u: GraphUser) => {
      ids.push(u.id);
      return true;
    });
    await iterator.iterate();
    pages = (t.sim.counters().graph.byKind["users.list"] ?? 0) - counted.before;
    const active = [...t.sim.state.directory.users.values()].filter((u) => !u.deletedDateTime).length;
    expect(ids).toHaveLength(active);
    expect(new Set(ids).size).toBe(active);
    expect(pages).toBe(Math.ceil(active / 40) - 1);
    expect(ids).not.toContain(DEMO_IDS.users.softDeleted);
  });

  it("when /users has no $top, then the page holds 100 users; $top outside 1..999 is a 400", async () => {
    const page = (await t.graph.api("/users").get()) as PageCollection;
    expect(page.value).toHaveLength(100);
    expect(Object.keys(page.value[0] as object).sort()).toEqual(
      ["businessPhones", "displayName", "givenName", "id", "jobTitle", "mail", "mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName"].sort(),
    );
    for (const top of ["1000", "0", "abc"]) {
      const res = await t.call(`${t.sim.graphBaseUrl}/v1.0/users?$top=${top}`);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("Request_UnsupportedQuery");
    }
    expect((await t.call(`${t.sim.graphBaseUrl}/v1.0/users?$top=999`)).status).toBe(200);
  });

  it("when /users is filtered by userType, accountEnabled, id in (...) or startswith, then only matching users come back", async () => {
    const guests = (await t.graph.api("/users").filter("userType eq 'Guest'").select("id,userType").top(999).get()) as PageCollection;
    expect(guests.value.length).toBe(20);
    expect(guests.value.every((u: GraphUser) => u.userType === "Guest")).toBe(true);

    const disabled = (await t.graph.api("/users").filter("accountEnabled eq false").select("id,accountEnabled").top(999).get()) as PageCollection;
    expect(disabled.value.length).toBeGreaterThan(0);
    expect(disabled.value.map((u: GraphUser) => u.id)).toContain(DEMO_IDS.users.disabled);

    const ids = [DEMO_IDS.users.globalAdmin, DEMO_IDS.users.member, DEMO_IDS.users.softDeleted];
    const some = (await t.graph.api("/users").filter(`id in (${ids.map((i) => `'${i}'`).join(",")})`).get()) as PageCollection;
    expect(some.value.map((u: GraphUser) => u.id).sort()).toEqual([DEMO_IDS.users.globalAdmin, DEMO_IDS.users.member].sort());

    const adele = (await t.graph.api("/users").filter("startswith(displayName,'Adele V')").get()) as PageCollection;
    expect(adele.value.map((u: GraphUser) => u.id)).toEqual([DEMO_IDS.users.globalAdmin]);

    const licensed = (await t.graph.api("/users").filter(`assignedLicenses/any(x:x/skuId eq ${DEMO_SKUS.powerAppsPerUser})`).top(999).get()) as PageCollection;
    expect(licensed.value.length).toBeGreaterThan(10);

    const enabled: GraphUser[] = [];
    const firstEnabled = (await t.graph.api("/users").filter("accountEnabled eq true and userType eq 'Member'").select("id,accountEnabled,userType").top(50).get()) as PageCollection;
    expect(firstEnabled["@odata.nextLink"]).toContain("$filter=accountEnabled%20eq%20true");
    await new PageIterator(t.graph, firstEnabled, (u: GraphUser) => {
      enabled.push(u);
      return true;
    }).iterate();
    expect(enabled.length).toBe([...t.sim.state.directory.users.values()].filter((u) => u.accountEnabled && !u.deletedDateTime && u.userType === "Member").length);
    expect(enabled.every((u) => u.accountEnabled === true && u.userType === "Member")).toBe(true);

    const bad = await t.call(`${t.sim.graphBaseUrl}/v1.0/users?$filter=favouriteColour eq 'blue'`);
    expect(bad.status).toBe(400);
  });

  it("when a user is read by id or by UPN, then it is found; an unknown or soft-deleted one is 404 Request_ResourceNotFound", async () => {
    const byId = (await t.graph.api(`/users/${DEMO_IDS.users.globalAdmin}`).select("id,userPrincipalName,usageLocation").get()) as GraphUser;
    expect(byId.usageLocation).toBe("NL");
    const byUpn = (await t.graph.api(`/users/${String(byId.userPrincipalName)}`).get()) as GraphUser;
    expect(byUpn.id).toBe(DEMO_IDS.users.globalAdmin);
    for (const id of ["00000000-0000-4000-8000-0000000000ff", DEMO_IDS.users.softDeleted]) {
      const err = await graphStatus(t.graph.api(`/users/${id}`).get());
      expect(err.statusCode).toBe(404);
      expect(err.code).toBe("Request_ResourceNotFound");
    }
  });

  it("when licenseDetails are read, then each assigned SKU has its part number and service plans", async () => {
    const details = (await t.graph.api(`/users/${DEMO_IDS.users.globalAdmin}/licenseDetails`).get()) as PageCollection;
    const parts = details.value.map((d: { skuPartNumber: string }) => d.skuPartNumber).sort();
    expect(parts).toEqual(["ENTERPRISEPACK", "POWERAPPS_PER_USER"]);
    const e3 = details.value.find((d: { skuId: string }) => d.skuId === DEMO_SKUS.office365E3) as { servicePlans: Array<{ servicePlanName: string; provisioningStatus: string }> };
    expect(e3.servicePlans.map((p) => p.servicePlanName)).toContain("EXCHANGE_S_ENTERPRISE");
  });

  it("when group members are listed, then /members has direct members only and /transitiveMembers the nested ones too, with @odata.type", async () => {
    const direct = (await t.graph.api(`/groups/${DEMO_IDS.groups.sales}/members`).top(999).get()) as PageCollection;
    const transitive = (await t.graph.api(`/groups/${DEMO_IDS.groups.sales}/transitiveMembers`).top(999).get()) as PageCollection;
    const directIds = direct.value.map((m: { id: string }) => m.id);
    expect(directIds).toContain(DEMO_IDS.groups.salesEmea);
    expect(direct.value.find((m: { id: string }) => m.id === DEMO_IDS.groups.salesEmea)).toMatchObject({ "@odata.type": "#microsoft.graph.group" });
    expect(transitive.value.length).toBe(direct.value.length + 20);

    const paged: string[] = [];
    const first = (await t.graph.api(`/groups/${DEMO_IDS.groups.allStaff}/members`).top(100).select("id").get()) as PageCollection;
    await new PageIterator(t.graph, first, (m: { id: string }) => {
      paged.push(m.id);
      return true;
    }).iterate();
    expect(paged.length).toBe(new Set(paged).size);
    expect(paged.length).toBe(t.sim.state.directory.visibleMembers(t.sim.state.directory.groups.get(DEMO_IDS.groups.allStaff)!).length);

    const group = (await t.graph.api(`/groups/${DEMO_IDS.groups.sales}`).get()) as { displayName: string; securityEnabled: boolean };
    expect(group).toMatchObject({ displayName: "Sales", securityEnabled: true });
  });

  it("when subscribedSkus and directory/subscriptions are read, then units, trial and self-service ownership show", async () => {
    const skus = (await t.graph.api("/subscribedSkus").get()) as PageCollection;
    const e3 = skus.value.find((s: { skuId: string }) => s.skuId === DEMO_SKUS.office365E3) as Record<string, unknown>;
    expect(e3).toMatchObject({ skuPartNumber: "ENTERPRISEPACK", appliesTo: "User", capabilityStatus: "Enabled", prepaidUnits: { enabled: 300, suspended: 0, warning: 0, lockedOut: 0 } });
    expect(typeof e3.consumedUnits).toBe("number");
    expect((await t.call(`${t.sim.graphBaseUrl}/v1.0/subscribedSkus?$filter=skuId eq '${DEMO_SKUS.office365E3}'`)).status).toBe(400);

    const subs = (await t.graph.api("/directory/subscriptions").get()) as PageCollection;
    const trial = subs.value.find((s: { skuId: string }) => s.skuId === DEMO_SKUS.powerAppsTrial) as Record<string, unknown>;
    expect(trial).toMatchObject({ isTrial: true, skuPartNumber: "POWERAPPS_VIRAL", status: "Enabled", nextLifecycleDateTime: "2026-09-30T00:00:00Z" });
    const selfService = subs.value.find((s: { skuId: string }) => s.skuId === DEMO_SKUS.powerBiProSelfService) as Record<string, unknown>;
    expect(selfService).toMatchObject({ ownerType: "User", ownerId: DEMO_IDS.users.selfServicePurchaser, totalLicenses: 3 });
    expect(Array.isArray(selfService.serviceStatus)).toBe(true);
  });

  it("when role assignments are filtered by a role template id, then the admins of that role are the principals", async () => {
    const cases: Array<[string, string]> = [
      [DirectoryRoleTemplateIds.globalAdministrator, DEMO_IDS.users.globalAdmin],
      [DirectoryRoleTemplateIds.powerPlatformAdministrator, DEMO_IDS.users.powerPlatformAdmin],
      [DirectoryRoleTemplateIds.dynamics365Administrator, DEMO_IDS.users.dynamicsAdmin],
    ];
    for (const [role, user] of cases) {
      const res = (await t.graph.api("/roleManagement/directory/roleAssignments").filter(`roleDefinitionId eq '${role}'`).get()) as PageCollection;
      expect(res.value.map((a: { principalId: string }) => a.principalId)).toEqual([user]);
    }
    const roles = (await t.graph.api("/directoryRoles").get()) as PageCollection;
    expect(roles.value).toHaveLength(6);
    const members = (await t.graph.api(`/directoryRoles(roleTemplateId='${DirectoryRoleTemplateIds.globalAdministrator}')/members`).get()) as PageCollection;
    expect(members.value.map((m: { id: string }) => m.id)).toEqual([DEMO_IDS.users.globalAdmin]);
    const memberOf = (await t.graph.api(`/users/${DEMO_IDS.users.globalAdmin}/memberOf`).get()) as PageCollection;
    expect(memberOf.value.some((m: { roleTemplateId?: string }) => m.roleTemplateId === DirectoryRoleTemplateIds.globalAdministrator)).toBe(true);
  });

  it("when sign-ins are filtered by time and app, then matching entries come back newest first; appended entries appear", async () => {
    const all = (await t.graph.api("/auditLogs/signIns").get()) as PageCollection;
    expect(all.value.length).toBeGreaterThanOrEqual(10);
    const appId = (all.value[0] as { appId: string }).appId;
    const since = "2026-01-12T09:00:00Z";
    const filtered = (await t.graph.api("/auditLogs/signIns").filter(`createdDateTime ge ${since} and appId eq '${appId}'`).get()) as PageCollection;
    for (const s of filtered.value as Array<{ createdDateTime: string; appId: string; status: { errorCode: number } }>) {
      expect(s.appId).toBe(appId);
      expect(Date.parse(s.createdDateTime)).toBeGreaterThanOrEqual(Date.parse(since));
      expect(typeof s.status.errorCode).toBe("number");
    }
    const appended = await t.admin("POST", "/signins", {
      id: "sim-test-signin-1", createdDateTime: "2026-03-01T10:00:00Z", userId: DEMO_IDS.users.member, userPrincipalName: "someone@contoso-sim.onmicrosoft.com",
      appId, appDisplayName: "Power Apps",
    });
    expect(appended.status).toBe(201);
    const latest = (await t.graph.api("/auditLogs/signIns").filter("createdDateTime ge 2026-03-01T00:00:00Z").get()) as PageCollection;
    expect(latest.value.map((s: { id: string }) => s.id)).toEqual(["sim-test-signin-1"]);
    const paged = (await t.graph.api("/auditLogs/signIns").top(3).get()) as PageCollection;
    expect(paged.value).toHaveLength(3);
    expect(paged["@odata.nextLink"]).toBeTruthy();
  });

  it("when an unknown path is requested, then Graph answers 400 BadRequest naming the segment", async () => {
    const res = await t.call(`${t.sim.graphBaseUrl}/v1.0/nonsense/things`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("nonsense");
  });
});
