import { GraphError, PageIterator, type PageCollection } from "@microsoft/microsoft-graph-client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEMO_IDS, DEMO_TENANT_ID } from "../../../local/sim-cloud/demo-tenant.js";
import { guidFor } from "../../../local/sim-cloud/state/ids.js";
import { allPages, startTestSim, type TestSim } from "./support.js";

let t: TestSim;
/** The sim's clock runs this far ahead of the real one (token lifetime tests). */
let clockOffsetMs = 0;
beforeAll(async () => {
  t = await startTestSim({ rateLimits: false, now: () => Date.now() + clockOffsetMs });
});
afterAll(async () => {
  await t.sim.close();
});
beforeEach(() => {
  t.sim.reset();
  t.sim.updateSettings({ graph: { deltaEmptyFirstPage: false, deltaPageSize: 200 } });
});

interface DeltaItem {
  id: string;
  displayName?: string;
  "@removed"?: { reason: string };
  "members@delta"?: Array<{ id: string; "@odata.type": string; "@removed"?: { reason: string } }>;
}

/** One full delta round with the Graph client's PageIterator; returns the items and the deltaLink. */
async function deltaRound(url: string): Promise<{ items: DeltaItem[]; deltaLink: string }> {
  const items: DeltaItem[] = [];
  const first = (await t.graph.api(url).get()) as PageCollection;
  const it = new PageIterator(t.graph, first, (item: DeltaItem) => {
    items.push(item);
    return true;
  });
  await it.iterate();
  const deltaLink = it.getDeltaLink();
  if (!deltaLink) throw new Error("no deltaLink");
  return { items, deltaLink };
}

let seq = 0;
const newUserId = () => guidFor(`delta-test:${process.pid}`, ++seq);

describe("Graph users/delta", () => {
  it("when a full round is followed to its deltaLink, then every active user appears once, pages are server-sized and $top is ignored", async () => {
    const pages = await allPages(t, `${t.sim.graphBaseUrl}/v1.0/users/delta?$select=displayName,accountEnabled&$top=5`);
    expect(pages.length).toBeGreaterThan(1);
    const last = pages[pages.length - 1] as Record<string, unknown>;
    expect(typeof last["@odata.deltaLink"]).toBe("string");
    expect(pages.slice(0, -1).every((p) => typeof p["@odata.nextLink"] === "string" && !p["@odata.deltaLink"])).toBe(true);
    expect((pages[0]?.value as unknown[]).length).toBeGreaterThan(5);
    const items = pages.flatMap((p) => p.value as DeltaItem[]);
    const active = [...t.sim.state.directory.users.values()].filter((u) => !u.deletedDateTime).length;
    expect(new Set(items.map((i) => i.id)).size).toBe(active);
    expect(items.every((i) => !i["@removed"])).toBe(true);
    expect(Object.keys(items[0] as object).sort()).toEqual(["accountEnabled", "displayName", "id"]);
    expect(String(last["@odata.deltaLink"])).toMatch(/\/users\/delta\?\$deltatoken=/);
  });

  it("when users change after a round, then the next deltaLink returns only those changes, with @removed changed/deleted", async () => {
    const { deltaLink } = await deltaRound("/users/delta?$select=displayName,accountEnabled");
    const added = newUserId();
    expect((await t.admin("POST", "/users", { id: added, userPrincipalName: `delta.${added}@contoso-sim.onmicrosoft.com`, displayName: "Delta Newcomer" })).status).toBe(201);
    expect((await t.admin("PATCH", `/users/${DEMO_IDS.users.member}`, { displayName: "Renamed Member" })).status).toBe(200);
    expect((await t.admin("POST", `/users/${DEMO_IDS.users.globalReader}/soft-delete`)).status).toBe(200);
    expect((await t.admin("DELETE", `/users/${DEMO_IDS.users.userAdmin}`)).status).toBe(204);

    const next = await deltaRound(deltaLink);
    const byId = new Map(next.items.map((i) => [i.id, i]));
    expect(next.items).toHaveLength(4);
    expect(byId.get(added)).toMatchObject({ displayName: "Delta Newcomer" });
    expect(byId.get(DEMO_IDS.users.member)).toMatchObject({ displayName: "Renamed Member" });
    expect(byId.get(DEMO_IDS.users.globalReader)).toEqual({ id: DEMO_IDS.users.globalReader, "@removed": { reason: "changed" } });
    expect(byId.get(DEMO_IDS.users.userAdmin)).toEqual({ id: DEMO_IDS.users.userAdmin, "@removed": { reason: "deleted" } });

    const quiet = await deltaRound(next.deltaLink);
    expect(quiet.items).toEqual([]);

    expect((await t.admin("POST", `/users/${DEMO_IDS.users.globalReader}/restore`)).status).toBe(200);
    const restored = await deltaRound(quiet.deltaLink);
    expect(restored.items.map((i) => i.id)).toEqual([DEMO_IDS.users.globalReader]);
    expect(restored.items[0]?.["@removed"]).toBeUndefined();
  });

  it("when a round starts with an empty page, then the page has a nextLink and the round still completes", async () => {
    t.sim.updateSettings({ graph: { deltaEmptyFirstPage: true } });
    const first = (await t.call(`${t.sim.graphBaseUrl}/v1.0/users/delta`).then((r) => r.json())) as PageCollection;
    expect(first.value).toEqual([]);
    expect(first["@odata.nextLink"]).toBeTruthy();
    const { items } = await deltaRound("/users/delta");
    expect(items.length).toBeGreaterThan(300);
  });

  it("when delta tokens are expired through the admin API or unknown, then the deltaLink answers 410 Gone with a Location to start over", async () => {
    const { deltaLink } = await deltaRound("/users/delta?$select=displayName");
    expect((await t.admin("POST", "/delta/expire")).status).toBe(200);
    const res = await t.call(deltaLink);
    expect(res.status).toBe(410);
    expect(res.headers.get("location")).toBe(`${t.sim.graphBaseUrl}/v1.0/users/delta?$select=displayName`);
    const body = (await res.json()) as { error: { code: string } };
    expect(body.error.code).toBe("syncStateNotFound");

    let status = 0;
    try {
      await t.graph.api(deltaLink).get();
    } catch (err) {
      status = err instanceof GraphError ? err.statusCode : -1;
    }
    expect(status).toBe(410);
    expect((await t.call(`${t.sim.graphBaseUrl}/v1.0/users/delta?$deltatoken=not-a-token`)).status).toBe(410);
  });

  it("when a deltaLink is older than the token lifetime, then it is 410 Gone", async () => {
    const { deltaLink } = await deltaRound("/users/delta");
    t.sim.updateSettings({ graph: { deltaTokenTtlSeconds: 60 } });
    expect((await t.call(deltaLink)).status).toBe(200);
    clockOffsetMs = 61_000;
    try {
      expect((await t.call(deltaLink)).status).toBe(410);
    } finally {
      clockOffsetMs = 0;
      t.sim.updateSettings({ graph: { deltaTokenTtlSeconds: 604800 } });
    }
  });

  it("when $deltatoken=latest is used, then the answer is an empty page with a deltaLink for future changes", async () => {
    const res = (await t.call(`${t.sim.graphBaseUrl}/v1.0/users/delta?$deltatoken=latest`).then((r) => r.json())) as PageCollection;
    expect(res.value).toEqual([]);
    await t.admin("PATCH", `/users/${DEMO_IDS.users.member}`, { jobTitle: "Lead" });
    const next = await deltaRound(String(res["@odata.deltaLink"]));
    expect(next.items.map((i) => i.id)).toEqual([DEMO_IDS.users.member]);
  });
});

describe("Graph groups/delta", () => {
  it("when a group's members change, then the next round carries only those changes in members@delta", async () => {
    const filter = `/groups/delta?$filter=id eq '${DEMO_IDS.groups.sales}'&$select=displayName,members`;
    const initial = await deltaRound(filter);
    const members = initial.items.flatMap((g) => g["members@delta"] ?? []);
    expect(initial.items.every((g) => g.id === DEMO_IDS.groups.sales)).toBe(true);
    expect(members.length).toBe(t.sim.state.directory.visibleMembers(t.sim.state.directory.groups.get(DEMO_IDS.groups.sales)!).length);
    expect(members.find((m) => m.id === DEMO_IDS.groups.salesEmea)?.["@odata.type"]).toBe("#microsoft.graph.group");

    const leaving = DEMO_IDS.users.member;
    const joining = DEMO_IDS.users.guest;
    expect((await t.admin("PATCH", `/groups/${DEMO_IDS.groups.sales}/members`, { add: [joining], remove: [leaving] })).status).toBe(200);
    const next = await deltaRound(initial.deltaLink);
    const changes = next.items.flatMap((g) => g["members@delta"] ?? []);
    expect(changes).toEqual([
      { "@odata.type": "#microsoft.graph.user", id: joining },
      { "@odata.type": "#microsoft.graph.user", id: leaving, "@removed": { reason: "deleted" } },
    ]);
    expect((await deltaRound(next.deltaLink)).items).toEqual([]);
  });

  it("when a group has more members than a page holds, then the group is split over pages and the round still lists each member once", async () => {
    t.sim.updateSettings({ graph: { groupDeltaMembersPerPage: 50 } });
    const pages = await allPages(t, `${t.sim.graphBaseUrl}/v1.0/groups/delta?$filter=id eq '${DEMO_IDS.groups.allStaff}'`);
    expect(pages.length).toBeGreaterThan(4);
    const items = pages.flatMap((p) => p.value as DeltaItem[]);
    const ids = items.flatMap((g) => (g["members@delta"] ?? []).map((m) => m.id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(t.sim.state.directory.visibleMembers(t.sim.state.directory.groups.get(DEMO_IDS.groups.allStaff)!).length);
    expect((items[0] as DeltaItem).displayName).toBe("All Staff");
  });

  it("when groups/delta runs without a filter, then every group appears", async () => {
    const { items } = await deltaRound("/groups/delta?$select=displayName");
    expect(new Set(items.map((g) => g.id)).size).toBe(t.sim.state.directory.groups.size);
    expect(items.every((g) => g["members@delta"] === undefined)).toBe(true);
    expect(t.sim.tenantId).toBe(DEMO_TENANT_ID);
  });
});
