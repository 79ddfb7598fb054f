import type { Container } from "@azure/cosmos";
import { describe, expect, it } from "vitest";
import { buildCatalog, CATALOG_DOUBT_MS, CatalogService } from "../../../shared/licenses/catalog.js";
import type { LicensingGraph } from "../../../shared/licenses/graph-licensing.js";
import { catalog, S, SKUS, SUBSCRIPTIONS } from "./fixtures.js";

describe("buildCatalog (L1)", () => {
  it("when built, then kind comes from the subscriptions and known free part numbers, and available = total - assigned", () => {
    const kinds = Object.fromEntries(catalog.products.map((p) => [p.skuPartNumber, p.kind]));
    expect(kinds).toMatchObject({ ENTERPRISEPACK: "paid", POWERAPPS_VIRAL: "trial", POWER_BI_PRO: "selfService", FLOW_FREE: "free" });
    expect(catalog.products.find((p) => p.skuId === S.e3)).toMatchObject({ total: 10, assigned: 4, available: 6, displayName: "Office 365 E3", renewalDate: "2027-01-01T00:00:00Z" });
  });

  it("when a product is suspended, then none of it is available", () => {
    const suspended = buildCatalog("t", SKUS.map((s) => (s.skuId === S.e3 ? { ...s, capabilityStatus: "Suspended" } : s)), SUBSCRIPTIONS, new Date());
    expect(suspended.products.find((p) => p.skuId === S.e3)?.available).toBe(0);
  });
});

/** A Cosmos container stand-in holding one snapshot document. */
function memoryContainer(): Container {
  const docs = new Map<string, Record<string, unknown>>();
  return {
    id: "catalog",
    item: (id: string) => ({ read: () => Promise.resolve({ resource: docs.get(id), statusCode: docs.has(id) ? 200 : 404 }) }),
    items: { upsert: (doc: Record<string, unknown>) => (docs.set(doc.id as string, { ...doc, _etag: "e" }), Promise.resolve({ resource: docs.get(doc.id as string) })) },
  } as unknown as Container;
}

describe("CatalogService cache", () => {
  function setup() {
    let reads = 0;
    let clock = Date.parse("2026-01-01T00:00:00Z");
    const graph = { readCatalogSources: () => (reads++, Promise.resolve({ skus: SKUS, subscriptions: SUBSCRIPTIONS })) } as unknown as LicensingGraph;
    const snapshots = memoryContainer();
    const service = () => new CatalogService({ graph: () => graph, snapshots, now: () => new Date(clock) });
    return { service, reads: () => reads, tick: (ms: number) => (clock += ms) };
  }

  it("when read again within 60 s, then Graph is not asked; after 60 s, it is", async () => {
    const { service, reads, tick } = setup();
    const s = service();
    await s.get("t");
    await Promise.all([s.get("t"), s.get("t")]);
    tick(60_000);
    await s.get("t");
    expect(reads()).toBe(1);
    tick(1);
    await s.get("t");
    expect(reads()).toBe(2);
  });

  it("when another instance starts within 60 s of a refresh, then it uses the snapshot in Cosmos", async () => {
    const { service, reads, tick } = setup();
    await service().get("t");
    tick(30_000);
    const other = await service().get("t");
    expect(reads()).toBe(1);
    expect(other.products).toHaveLength(SKUS.length);
  });

  it("when asked fresh, or after a change was counted, then the answer follows", async () => {
    const { service, reads } = setup();
    const s = service();
    await s.get("t");
    s.adjustAssigned("t", new Map([[S.e3, 2]]), s.readSeq("t"));
    expect((await s.get("t")).products.find((p) => p.skuId === S.e3)?.available).toBe(4);
    await s.get("t", { fresh: true });
    expect(reads()).toBe(2);
  });
});

describe("CatalogService counts while this process changes licenses (L1, L18)", () => {
  /** Graph's catalog reads answer when the test says so; the units assigned in Graph are the test's. */
  function controlled() {
    let clock = Date.parse("2026-01-01T00:00:00Z");
    let e3Assigned = 4;
    const pending: (() => void)[] = [];
    let reads = 0;
    let hold = false;
    const answer = () => ({ skus: SKUS.map((k) => (k.skuId === S.e3 ? { ...k, consumedUnits: e3Assigned } : k)), subscriptions: SUBSCRIPTIONS });
    const graph = {
      readCatalogSources: () => {
        reads++;
        const snapshot = answer(); // what Graph holds when the read reaches it
        return hold ? new Promise((resolve) => pending.push(() => resolve(snapshot))) : Promise.resolve(snapshot);
      },
    } as unknown as LicensingGraph;
    const snapshots = memoryContainer();
    const service = () => new CatalogService({ graph: () => graph, snapshots, now: () => new Date(clock) });
    const e3 = async (s: CatalogService) => (await s.get("t")).products.find((p) => p.skuId === S.e3)?.assigned;
    return {
      service, e3, reads: () => reads, tick: (ms: number) => (clock += ms),
      assignInGraph: (n: number) => (e3Assigned += n),
      holdReads: () => (hold = true),
      release: () => { hold = false; pending.splice(0).forEach((r) => r()); },
    };
  }

  it("when Graph refuses a change for lack of licenses, then the next read goes to Graph - not to the Cosmos snapshot an earlier read left (the counts went back to it)", async () => {
    const t = controlled();
    const s = t.service();
    expect(await t.e3(s)).toBe(4);
    t.assignInGraph(3); // changes made and counted elsewhere in Graph; this process then meets a refusal
    s.invalidate("t");
    expect(await t.e3(s)).toBe(7);
    expect(t.reads()).toBe(2);
    // A process with nothing cached that meets a refusal does not start from the snapshot either.
    const other = t.service();
    t.assignInGraph(1);
    other.invalidate("t");
    expect(await t.e3(other)).toBe(8);
    expect(t.reads()).toBe(3);
  });

  it("when a change is counted while Graph is being read, then that read (which may or may not hold it) is used for CATALOG_DOUBT_MS only, then read again", async () => {
    const t = controlled();
    const s = t.service();
    await s.get("t");
    t.tick(60_001); // expired: the next use reads Graph
    t.holdReads();
    const reading = s.get("t"); // Graph answers before the change below reaches it
    const before = s.readSeq("t");
    t.assignInGraph(1);
    s.adjustAssigned("t", new Map([[S.e3, 1]]), before);
    t.release();
    expect((await reading).products.find((p) => p.skuId === S.e3)?.assigned).toBe(4);
    t.tick(CATALOG_DOUBT_MS - 1);
    expect(await t.e3(s)).toBe(4); // in doubt, briefly
    t.tick(2);
    expect(await t.e3(s)).toBe(5);
    expect(t.reads()).toBe(3);
  });

  it("when Graph refuses a change while a read is under way (begun before the refusal), then the next reader does not join that read: it reads Graph itself", async () => {
    const t = controlled();
    const s = t.service();
    await s.get("t");
    t.tick(60_001);
    t.holdReads();
    const before = s.get("t"); // under way, begun before what follows
    t.assignInGraph(2);
    s.invalidate("t");
    const after = s.get("t");
    t.release();
    expect((await before).products.find((p) => p.skuId === S.e3)?.assigned).toBe(4);
    expect((await after).products.find((p) => p.skuId === S.e3)?.assigned).toBe(6);
    expect(t.reads()).toBe(3);
  });

  it("when the catalog was read again after a change was sent, then the change is not added to that read (it may hold it already) and it is read again within CATALOG_DOUBT_MS", async () => {
    const t = controlled();
    const s = t.service();
    await s.get("t");
    const before = s.readSeq("t");
    t.assignInGraph(2); // the change reached Graph...
    await s.get("t", { fresh: true }); // ...and a read after it holds it
    s.adjustAssigned("t", new Map([[S.e3, 2]]), before);
    expect(await t.e3(s)).toBe(6); // not 8
    t.tick(CATALOG_DOUBT_MS + 1);
    await s.get("t");
    expect(t.reads()).toBe(3);
  });
});

describe("CatalogService.product", () => {
  it("when a product is not in the cached catalog (bought since it was read), then Graph is read once more before it is a 404", async () => {
    let skus = SKUS.filter((s) => s.skuId !== S.e3);
    let reads = 0;
    const graph = { readCatalogSources: () => (reads++, Promise.resolve({ skus, subscriptions: SUBSCRIPTIONS })) } as unknown as LicensingGraph;
    const service = new CatalogService({ graph: () => graph, snapshots: memoryContainer() });
    await service.get("t");
    skus = SKUS;

    expect((await service.product("t", S.e3)).skuId).toBe(S.e3);
    expect(reads).toBe(2);
    await expect(service.product("t", "00000000-0000-4000-8000-000000000000")).rejects.toMatchObject({ kind: "notFound" });
    expect(reads).toBe(3);
  });
});
