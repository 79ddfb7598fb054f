import type { Container } from "@azure/cosmos";
import { describe, expect, it } from "vitest";
import { buildCatalog, CatalogService } from "../../../shared/licenses/catalog.js";
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
    s.adjustAssigned("t", new Map([[S.e3, 2]]));
    expect((await s.get("t")).products.find((p) => p.skuId === S.e3)?.available).toBe(4);
    await s.get("t", { fresh: true });
    expect(reads()).toBe(2);
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
