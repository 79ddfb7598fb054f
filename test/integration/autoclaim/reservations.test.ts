import { randomUUID } from "node:crypto";
import type { Container, JSONObject } from "@azure/cosmos";
import { describe, expect, it, vi } from "vitest";
import { Reservations, type ReservedWith } from "../../../shared/autoclaim/reservations.js";
import { createItem, queryAll } from "../../../shared/storage/repository.js";
import { useLocalCosmos } from "../../support/cosmos.js";

const cosmos = useLocalCosmos("reservations");
const SHARDS = 8;

/** A product with `units` licenses in Graph, counters in a fresh tenant of the `autoclaim` container. */
function product(units: number) {
  const container: Container = cosmos.database.container("autoclaim");
  const tenantId = randomUUID();
  const skuId = randomUUID();
  const reservations = new Reservations({ container, shards: SHARDS, availableInGraph: () => Promise.resolve(units), pendingClaims: () => Promise.resolve(0) });
  const claim = (n: number) => (shard: number) => ({
    operationType: "Create" as const,
    resourceBody: { id: `claim:${n}`, type: "claim", tenantId, skuId, shard } as JSONObject,
  });
  const ask = (users: number[]) => Promise.all(users.map((n) => reservations.reserveWith(tenantId, skuId, `user-${n}`, claim(n))));
  const left = async () => (await reservations.counters(tenantId, skuId)).reduce((sum, c) => sum + c.available, 0);
  const claims = () => queryAll<string>(container, { query: "SELECT VALUE c.id FROM c WHERE c.tenantId = @t AND c.type = 'claim'", parameters: [{ name: "@t", value: tenantId }] });
  return { container, tenantId, skuId, reservations, ask, left, claims };
}

const reserved = (results: ReservedWith[]) => results.filter((r) => r.kind === "reserved").length;
const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

describe("A10 reservations asked for together (one transactional batch for the group)", () => {
  it("when 12 claims of a product ask at once and one shard has the units, then one batch takes 12 units and writes the 12 claims", async () => {
    const p = product(200);
    await p.ask([1000]); // creates the counters (25 units per shard)
    const batch = vi.spyOn(p.container.items, "batch");

    const results = await p.ask(range(12));

    expect(reserved(results)).toBe(12);
    expect(batch).toHaveBeenCalledTimes(1);
    expect(batch.mock.calls[0]?.[0]).toHaveLength(13); // 12 claims + the counter
    expect(await p.left()).toBe(200 - 13);
    expect(await p.claims()).toHaveLength(13);
  });

  it("when one claim of the group exists already, then that one is refused (409) and the others are reserved; the units stay exact", async () => {
    const p = product(200);
    await p.ask([1000]);
    await createItem(p.container, { id: "claim:5", type: "claim", tenantId: p.tenantId, skuId: p.skuId, shard: 0 });

    const results = await p.ask(range(10));

    expect(results[5]).toEqual({ kind: "refused", statusCode: 409 });
    expect(results.filter((_, i) => i !== 5).every((r) => r.kind === "reserved")).toBe(true);
    expect(await p.left()).toBe(200 - 1 - 9);
  });

  it("when the group asks for more units than its shard has, then they go one at a time over every shard: exactly the product's units are taken", async () => {
    const p = product(10); // 1 or 2 units per shard
    const results = await p.ask(range(16));

    expect(reserved(results)).toBe(10);
    expect(results.filter((r) => r.kind === "none")).toHaveLength(6);
    expect(await p.left()).toBe(0);
    expect(await p.claims()).toHaveLength(10);
  });

  it("when one reservation of a group taken one at a time cannot reach Cosmos, then only that one fails: the others are reserved and told so", async () => {
    const p = product(10); // 1 or 2 units per shard: a group of 3 goes one at a time
    await p.ask([1000]);
    const batch = p.container.items.batch.bind(p.container.items);
    vi.spyOn(p.container.items, "batch").mockImplementation((operations, partitionKey, options) => {
      const lone = operations.length === 2 && JSON.stringify(operations[0]).includes('"claim:1"');
      return lone ? Promise.reject(Object.assign(new Error("service unavailable"), { code: 503 })) : batch(operations, partitionKey, options);
    });

    const results = await Promise.allSettled([0, 1, 2].map((n) => p.reservations.reserveWith(p.tenantId, p.skuId, `user-${n}`, (shard) => ({
      operationType: "Create" as const,
      resourceBody: { id: `claim:${n}`, type: "claim", tenantId: p.tenantId, skuId: p.skuId, shard } as JSONObject,
    }))));

    expect(results.map((r) => (r.status === "fulfilled" ? r.value.kind : "rejected"))).toEqual(["reserved", "rejected", "reserved"]);
    expect(results[1]).toMatchObject({ status: "rejected", reason: { code: "unavailable" } });
    expect((await p.claims()).sort()).toEqual(["claim:0", "claim:1000", "claim:2"]);
    expect(await p.left()).toBe(10 - 3);
  });

  it("when 120 claims ask in waves while groups are in flight, then no more units are taken than exist and every unit has its claim", async () => {
    const p = product(50);
    await p.ask([1000]);
    const waves = await Promise.all([p.ask(range(40)), p.ask(range(40, 40)), p.ask(range(40, 80))]);

    expect(reserved(waves.flat())).toBe(49);
    expect(await p.left()).toBe(0);
    expect(await p.claims()).toHaveLength(50);
  });
});

/** A fresh product whose licenses in Graph the test sets (`graph.units`); each call of `instance` is another process's Reservations. */
function productInGraph() {
  const container: Container = cosmos.database.container("autoclaim");
  const graph = { units: 0 };
  const availableInGraph = vi.fn(() => Promise.resolve(graph.units));
  const instance = (emptyRefreshMs?: number) =>
    new Reservations({ container, shards: SHARDS, availableInGraph, pendingClaims: () => Promise.resolve(0), ...(emptyRefreshMs !== undefined && { emptyRefreshMs }) });
  return { tenantId: randomUUID(), skuId: randomUUID(), graph, availableInGraph, instance };
}

describe("A3/A10 counters found empty are brought in line with Graph before a claim fails", () => {
  it("when Graph has units the counters do not know of, then refreshEmpty adds them; asked again within the interval, Graph is not read again", async () => {
    const { tenantId, skuId, graph, availableInGraph, instance } = productInGraph();
    const reservations = instance(60_000);
    const claim = (n: number) => (shard: number) => ({ operationType: "Create" as const, resourceBody: { id: `claim:${n}`, type: "claim", tenantId, skuId, shard } as JSONObject });

    expect(await reservations.reserveWith(tenantId, skuId, "u1", claim(1))).toEqual({ kind: "none" });
    expect(await reservations.refreshEmpty(tenantId, [skuId])).toBe(false);
    graph.units = 2; // bought since
    expect(await reservations.refreshEmpty(tenantId, [skuId])).toBe(false); // within the interval: the last answer, no Graph read
    const reads = availableInGraph.mock.calls.length;

    const fresh = instance(0);
    expect(await fresh.refreshEmpty(tenantId, [skuId])).toBe(true);
    expect(availableInGraph.mock.calls.length).toBe(reads + 1);
    expect(await fresh.reserveWith(tenantId, skuId, "u2", claim(2))).toMatchObject({ kind: "reserved" });
  });
});

describe("A10 reconciliation never adds the same difference twice", () => {
  it("when several instances and callers reconcile one product at once, then the counters end at what Graph has, not a multiple of it", async () => {
    const { tenantId, skuId, graph, instance } = productInGraph();
    const [a, b, c] = [instance(), instance(), instance()];
    await a.reconcile(tenantId, skuId); // counters created, empty
    graph.units = 12; // bought since
    await Promise.all([a.reconcile(tenantId, skuId), a.reconcile(tenantId, skuId), b.reconcile(tenantId, skuId), c.reconcile(tenantId, skuId)]);
    const left = (await a.counters(tenantId, skuId)).reduce((sum, x) => sum + x.available, 0);
    expect(left).toBe(12);
    // The lease was given back: a later reconciliation (the next maintenance) is not locked out.
    graph.units = 20;
    expect(await b.reconcile(tenantId, skuId)).toEqual({ before: 12, after: 20 });
  });
});
