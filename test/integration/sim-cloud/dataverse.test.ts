import { randomUUID } from "node:crypto";
import { DynamicsWebApi } from "dynamics-web-api";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEMO_APP, DEMO_IDS, demoRoleId } from "../../../local/sim-cloud/demo-tenant.js";
import { startTestSim, type TestSim } from "./support.js";

const ENV = DEMO_IDS.environments.production;

let t: TestSim;
let api: DynamicsWebApi;
beforeAll(async () => {
  t = await startTestSim({ rateLimits: false });
  api = new DynamicsWebApi({ serverUrl: t.sim.dataverseUrl(ENV), onTokenRefresh: () => t.token(t.sim.dataverseUrl(ENV)) });
});
afterAll(async () => {
  await t.sim.close();
});
beforeEach(() => {
  t.sim.reset();
});

interface SystemUser {
  systemuserid: string;
  fullname?: string;
  domainname?: string;
  isdisabled?: boolean;
  accessmode?: number;
  applicationid?: string | null;
  azureactivedirectoryobjectid?: string | null;
}

const api92 = (path: string) => `${t.sim.dataverseUrl(ENV)}/api/data/v9.2/${path}`;

describe("Dataverse Web API with dynamics-web-api", () => {
  it("when systemusers are read with $select, $filter and a page size, then pages follow @odata.nextLink and the filter holds", async () => {
    const first = await api.retrieveMultiple<SystemUser>({ collection: "systemusers", select: ["fullname", "isdisabled", "accessmode"], filter: "isdisabled eq false and applicationid eq null", maxPageSize: 5 });
    expect(first.value).toHaveLength(5);
    expect(first.oDataNextLink).toContain("$skiptoken=");
    expect(Object.keys(first.value[0] as object).sort()).toEqual(["@odata.etag", "accessmode", "fullname", "isdisabled", "systemuserid"].sort());
    const second = await api.retrieveMultiple<SystemUser>({ collection: "systemusers", maxPageSize: 5 }, first.oDataNextLink);
    expect(second.value.map((u) => u.systemuserid)).not.toContain(first.value[0]?.systemuserid);

    const all = await api.retrieveAll<SystemUser>({ collection: "systemusers", select: ["fullname", "isdisabled"], filter: "isdisabled eq false and applicationid eq null", maxPageSize: 7 });
    const db = t.sim.state.environment(ENV)!.db!;
    const expected = db.order.filter((u) => u.data.isdisabled === false && u.data.applicationid === null).length;
    expect(all.value).toHaveLength(expected);
    expect(all.value.every((u) => u.isdisabled === false)).toBe(true);

    const counted = (await (await t.call(api92("systemusers?$select=fullname&$count=true&$orderby=fullname desc&$top=3"))).json()) as { "@odata.count": number; value: SystemUser[]; "@odata.nextLink"?: string };
    expect(counted["@odata.count"]).toBe(db.users.size);
    expect(counted.value).toHaveLength(3);
    expect(counted["@odata.nextLink"]).toBeUndefined();
    const names = counted.value.map((u) => u.fullname ?? "");
    expect([...names].sort((a, b) => b.localeCompare(a))).toEqual(names);
  });

  it("when filtered by azureactivedirectoryobjectid, then the user with that object id is found; a quoted GUID or unknown column is a 400", async () => {
    const res = await api.retrieveMultiple<SystemUser>({ collection: "systemusers", filter: `azureactivedirectoryobjectid eq ${DEMO_IDS.users.globalAdmin}`, select: ["domainname", "azureactivedirectoryobjectid"] });
    expect(res.value).toHaveLength(1);
    expect(res.value[0]?.azureactivedirectoryobjectid).toBe(DEMO_IDS.users.globalAdmin);

    const quoted = await t.call(api92(`systemusers?$filter=azureactivedirectoryobjectid eq '${DEMO_IDS.users.globalAdmin}'`));
    expect(quoted.status).toBe(400);
    const unknown = await t.call(api92("systemusers?$select=favouritecolour"));
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe("0x80060888");
  });

  it("when the environment holds special users, then application, support, delegated-admin, non-interactive and stub users are distinguishable", async () => {
    const all = await api.retrieveAll<SystemUser & { azurestate: number }>({ collection: "systemusers", select: ["fullname", "accessmode", "applicationid", "isdisabled", "azureactivedirectoryobjectid", "azurestate"] });
    const modes = new Set(all.value.map((u) => u.accessmode));
    for (const mode of [0, 1, 3, 4, 5]) expect(modes.has(mode)).toBe(true);
    expect(all.value.some((u) => u.applicationid === DEMO_APP.appId)).toBe(true);
    expect(all.value.some((u) => u.accessmode === 4 && u.applicationid === null)).toBe(true);
    expect(all.value.some((u) => u.isdisabled && u.azureactivedirectoryobjectid === null && u.fullname === "Former Employee")).toBe(true);
  });

  it("when a systemuser is created and updated, then create returns its id and the change is stored; disabling a directory-synced user is refused", async () => {
    const objectId = randomUUID();
    const id = await api.create<Record<string, unknown>, string>({ collection: "systemusers", data: { azureactivedirectoryobjectid: objectId, domainname: "new.user@contoso-sim.onmicrosoft.com", firstname: "New", lastname: "User", "businessunitid@odata.bind": `/businessunits(${t.sim.state.environment(ENV)!.db!.businessUnitId})` } });
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await api.update({ collection: "systemusers", key: id, data: { title: "Buyer" } });
    const read = await api.retrieve<SystemUser & { title: string }>({ collection: "systemusers", key: id, select: ["title", "fullname"] });
    expect(read).toMatchObject({ title: "Buyer", fullname: "New User" });

    const refused = await t.call(api92(`systemusers(${id})`), { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ isdisabled: true }) });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain("addUser");

    const duplicate = await t.call(api92("systemusers"), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ azureactivedirectoryobjectid: objectId, domainname: "x@y" }) });
    expect(duplicate.status).toBe(412);
    const represented = await t.call(api92("systemusers"), { method: "POST", headers: { "content-type": "application/json", prefer: "return=representation" }, body: JSON.stringify({ domainname: "rep@contoso-sim.onmicrosoft.com", azureactivedirectoryobjectid: randomUUID() }) });
    expect(represented.status).toBe(201);
    expect(((await represented.json()) as SystemUser).domainname).toBe("rep@contoso-sim.onmicrosoft.com");
    const del = await t.call(api92(`systemusers(${id})`), { method: "DELETE" });
    expect(del.status).toBe(400);
  });

  it("when an application user's status is changed, then it is allowed (admins enable and disable application users)", async () => {
    const app = t.sim.state.environment(ENV)!.db!.findByApplicationId(DEMO_IDS.integrationAppId)!;
    await api.update({ collection: "systemusers", key: String(app.data.systemuserid), data: { isdisabled: true } });
    expect(app.data.isdisabled).toBe(true);
  });

  it("when executeBatch sends a change set and reads, then each response comes back in order and the change set is one transaction", async () => {
    const ids = [randomUUID(), randomUUID()];
    api.startBatch();
    void api.create({ collection: "systemusers", data: { azureactivedirectoryobjectid: ids[0], domainname: "batch1@contoso-sim.onmicrosoft.com" } });
    void api.create({ collection: "systemusers", data: { azureactivedirectoryobjectid: ids[1], domainname: "batch2@contoso-sim.onmicrosoft.com" } });
    void api.retrieveMultiple({ collection: "systemusers", filter: `azureactivedirectoryobjectid eq ${DEMO_IDS.users.globalAdmin}`, select: ["domainname"] });
    const results = await api.executeBatch();
    expect(results).toHaveLength(3);
    expect(String(results[0])).toMatch(/^[0-9a-f-]{36}$/);
    expect((results[2] as { value: unknown[] }).value).toHaveLength(1);
    const db = t.sim.state.environment(ENV)!.db!;
    expect(ids.every((id) => db.findByAadObjectId(id))).toBe(true);

    const before = db.users.size;
    api.startBatch();
    void api.create({ collection: "systemusers", data: { azureactivedirectoryobjectid: randomUUID(), domainname: "rollback@contoso-sim.onmicrosoft.com" } });
    void api.create({ collection: "systemusers", data: { nosuchcolumn: 1 } });
    await expect(api.executeBatch()).rejects.toBeTruthy();
    expect(db.users.size).toBe(before);
  });

  it("when a batch holds 1001 operations, then it is refused with 400; a role can be associated through the Web API", async () => {
    const boundary = "batch_sim";
    const part = `--${boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET ${api92("WhoAmI")} HTTP/1.1\r\nAccept: application/json\r\n\r\n`;
    const body = (n: number) => `${part.repeat(n)}--${boundary}--\r\n`;
    const res = await t.call(api92("$batch"), { method: "POST", headers: { "content-type": `multipart/mixed; boundary=${boundary}` }, body: body(1001) });
    expect(res.status).toBe(400);
    const ok = await t.call(api92("$batch"), { method: "POST", headers: { "content-type": `multipart/mixed; boundary=${boundary}` }, body: body(3) });
    expect(ok.status).toBe(200);
    expect((await ok.text()).match(/HTTP\/1\.1 200 OK/g)).toHaveLength(3);

    const user = t.sim.state.environment(ENV)!.db!.findByAadObjectId(DEMO_IDS.users.member)!;
    const role = demoRoleId(ENV, "Sales Person");
    await api.associate({ collection: "systemusers", primaryKey: String(user.data.systemuserid), relationshipName: "systemuserroles_association", relatedCollection: "roles", relatedKey: role });
    expect(user.roles.has(role)).toBe(true);
    const roles = await api.retrieveMultiple<{ name: string }>({ collection: "roles", filter: "name eq 'Basic User'", select: ["name", "roleid"] });
    expect(roles.value.map((r) => r.name)).toEqual(["Basic User"]);
  });

  it("when WhoAmI is called with the app's token, then its application user answers; every response carries x-ms-dop-hint", async () => {
    const res = await t.call(api92("WhoAmI"));
    expect(res.status).toBe(200);
    expect(res.headers.get("x-ms-dop-hint")).toBe("4");
    const who = (await res.json()) as { UserId: string; BusinessUnitId: string; OrganizationId: string };
    expect(who.UserId).toBe(String(t.sim.state.environment(ENV)!.db!.findByApplicationId(DEMO_APP.appId)!.data.systemuserid));
  });

  it("when an environment has no Dataverse database, then its path answers 404", async () => {
    const env = DEMO_IDS.environments.noDataverse;
    const res = await t.call(`${t.sim.dataverseUrl(env)}/api/data/v9.2/systemusers`);
    expect(res.status).toBe(404);
  });
});
