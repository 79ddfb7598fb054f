import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEMO_IDS, demoUserId } from "../../../local/sim-cloud/demo-tenant.js";
import { BAP_AUDIENCE, startTestSim, type TestSim } from "./support.js";

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

const demoUser = demoUserId;
const E = DEMO_IDS.environments;
const envUrl = (id = "") => `${t.sim.bapBaseUrl}/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments${id ? `/${id}` : ""}`;

interface Environment {
  id: string;
  name: string;
  location: string;
  properties: {
    displayName: string;
    environmentSku: string;
    isDefault: boolean;
    createdBy: { id: string };
    states: { management: { id: string }; runtime: { id: string } };
    linkedEnvironmentMetadata?: { instanceUrl: string; instanceApiUrl: string; securityGroupId?: string; domainName: string };
  };
}

async function addUser(environmentId: string, objectId: string): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
  const res = await t.call(`${envUrl(environmentId)}/addUser?api-version=2023-06-01`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ObjectId: objectId }),
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
}

const systemUser = (env: string, objectId: string) => t.sim.state.environment(env)?.db?.findByAadObjectId(objectId);

describe("Power Platform admin API", () => {
  it("when environments are listed, then each type is there with its Dataverse URL and security group, and none without a database has linkedEnvironmentMetadata", async () => {
    const res = await t.call(`${envUrl()}?api-version=2023-06-01`);
    expect(res.status).toBe(200);
    const { value } = (await res.json()) as { value: Environment[] };
    expect(value.map((e) => e.properties.environmentSku).sort()).toEqual(["Default", "Developer", "Production", "Production", "Sandbox", "Teams", "Trial"]);
    const byId = new Map(value.map((e) => [e.name, e]));
    const prod = byId.get(E.production)!;
    expect(prod.id).toBe(`/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments/${E.production}`);
    expect(prod.properties.linkedEnvironmentMetadata).toMatchObject({ instanceUrl: t.sim.dataverseUrl(E.production), securityGroupId: DEMO_IDS.groups.sales });
    expect(prod.properties.states).toEqual({ management: { id: "Ready" }, runtime: { id: "Enabled" } });
    expect(byId.get(E.noDataverse)?.properties.linkedEnvironmentMetadata).toBeUndefined();
    expect(byId.get(E.developer)?.properties.createdBy.id).toBe(DEMO_IDS.users.developerCreator);
    expect(byId.get(E.default)?.properties.isDefault).toBe(true);
  });

  it("when one environment is read, then it is returned; an unknown one is 404 and a request without api-version is 400", async () => {
    const one = (await (await t.call(`${envUrl(E.sandbox)}?api-version=2023-06-01`)).json()) as Environment;
    expect(one.properties.environmentSku).toBe("Sandbox");
    const unknown = await t.call(`${envUrl("00000000-0000-4000-8000-000000000123")}?api-version=2023-06-01`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe("EnvironmentNotFound");
    expect((await t.call(envUrl())).status).toBe(400);
  });

  it("when addUser gets an eligible user, then the systemuser is created from the directory", async () => {
    const userId = demoUser(56);
    expect(systemUser(E.production, userId)).toBeUndefined();
    const res = await addUser(E.production, userId);
    expect(res.status).toBe(200);
    const u = t.sim.state.directory.users.get(userId)!;
    expect(systemUser(E.production, userId)?.data).toMatchObject({
      domainname: u.userPrincipalName, firstname: u.givenName, lastname: u.surname, isdisabled: false, islicensed: true, accessmode: 0, title: u.jobTitle,
    });
  });

  it("when addUser gets a user disabled in Dataverse, then it is re-enabled; a profile change is refreshed but an internal email edited in Dataverse is kept", async () => {
    const userId = demoUser(54);
    expect(systemUser(E.production, userId)?.data.isdisabled).toBe(true);
    expect((await addUser(E.production, userId)).status).toBe(200);
    expect(systemUser(E.production, userId)?.data.isdisabled).toBe(false);

    const rec = systemUser(E.production, userId)!;
    const patch = await t.call(`${t.sim.dataverseUrl(E.production)}api/data/v9.2/systemusers(${String(rec.data.systemuserid)})`, {
      method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ internalemailaddress: "edited.in@dataverse.example" }),
    });
    expect(patch.status).toBe(204);
    await t.admin("PATCH", `/users/${userId}`, { jobTitle: "Head of Sales", mail: "changed@contoso-sim.onmicrosoft.com" });
    expect((await addUser(E.production, userId)).status).toBe(200);
    expect(rec.data.title).toBe("Head of Sales");
    expect(rec.data.internalemailaddress).toBe("edited.in@dataverse.example");
  });

  it("when addUser gets a user disabled in Entra, then the systemuser is disabled too", async () => {
    const userId = demoUser(60);
    expect(t.sim.state.directory.users.get(userId)?.accountEnabled).toBe(false);
    expect((await addUser(E.production, userId)).status).toBe(200);
    expect(systemUser(E.production, userId)?.data.isdisabled).toBe(true);
  });

  it("when addUser gets a user that does not exist, then 404 UserNotFound", async () => {
    const res = await addUser(E.production, "00000000-0000-4000-8000-0000000000ee");
    expect(res.status).toBe(404);
    expect(res.body.error?.code).toBe("UserNotFound");
    const soft = await addUser(E.production, DEMO_IDS.users.softDeleted);
    expect(soft.status).toBe(404);
  });

  it("when the user is not a direct member of the environment's security group, then 403; the group owner and tenant admins pass, Dynamics 365 admins need the group", async () => {
    const nested = await addUser(E.production, demoUser(85));
    expect(nested.status).toBe(403);
    expect(nested.body.error?.code).toBe("UserNotInSecurityGroup");
    expect((await addUser(E.production, demoUser(81))).status).toBe(200);
    expect((await addUser(E.sandbox, DEMO_IDS.users.powerPlatformAdmin)).status).toBe(200);
    expect(systemUser(E.sandbox, DEMO_IDS.users.powerPlatformAdmin)?.data.accessmode).toBe(1);
    expect((await addUser(E.sandbox, DEMO_IDS.users.dynamicsAdmin)).status).toBe(403);
    await t.admin("PATCH", `/groups/${DEMO_IDS.groups.sandboxTesters}/members`, { add: [DEMO_IDS.users.dynamicsAdmin] });
    expect((await addUser(E.sandbox, DEMO_IDS.users.dynamicsAdmin)).status).toBe(200);
    expect(systemUser(E.sandbox, DEMO_IDS.users.dynamicsAdmin)?.data.accessmode).toBe(1);
  });

  it("when the user holds no license, then 400 userNotLicensed, except in a Teams environment", async () => {
    const unlicensed = demoUser(25);
    const res = await addUser(E.production, unlicensed);
    expect(res.status).toBe(400);
    expect(res.body.error?.code).toBe("userNotLicensed");
    expect((await addUser(E.teams, unlicensed)).status).toBe(200);
  });

  it("when a developer environment gets someone other than its creator, or an environment has no database, then it is refused", async () => {
    expect((await addUser(E.developer, DEMO_IDS.users.member)).status).toBe(403);
    expect((await addUser(E.developer, DEMO_IDS.users.developerCreator)).status).toBe(200);
    expect((await addUser(E.noDataverse, DEMO_IDS.users.member)).status).toBe(400);
    const bad = await t.call(`${envUrl(E.production)}/addUser?api-version=2023-06-01`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(bad.status).toBe(400);
  });

  it("when the token is for another audience, then 401", async () => {
    const res = await fetch(`${envUrl()}?api-version=2023-06-01`, { headers: { authorization: `Bearer ${await t.token("https://graph.microsoft.com")}` } });
    expect(res.status).toBe(401);
    const ok = await fetch(`${envUrl()}?api-version=2023-06-01`, { headers: { authorization: `Bearer ${await t.token(BAP_AUDIENCE)}` } });
    expect(ok.status).toBe(200);
  });
});
