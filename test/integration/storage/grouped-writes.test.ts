import { randomUUID } from "node:crypto";
import type { Container } from "@azure/cosmos";
import { describe, expect, it, vi } from "vitest";
import { COSMOS_EMULATOR_KEY, freePort } from "../../../local/services.js";
import { AppError } from "../../../shared/errors/app-error.js";
import { createCosmosClient } from "../../../shared/storage/cosmos.js";
import { GroupedWrites } from "../../../shared/storage/grouped-writes.js";
import { createItem, readItem } from "../../../shared/storage/repository.js";
import { useLocalCosmos } from "../../support/cosmos.js";

const cosmos = useLocalCosmos();

/** In the `events` container, whose partition key path is /partitionKey. */
interface Doc {
  id: string;
  partitionKey: string;
  status: string;
}

/** Items in partitions of their own (as events are), seeded as 'queued'. */
async function seed(container: Container, count: number): Promise<Doc[]> {
  const docs = Array.from({ length: count }, (_, i) => ({ id: `e${i}`, partitionKey: `${randomUUID()}|e${i}`, status: "queued" }));
  await Promise.all(docs.map((d) => createItem(container, d)));
  return docs;
}

const setStatus = (doc: Doc, status: string, condition?: string) => ({
  id: doc.id,
  partitionKey: doc.partitionKey,
  operations: [{ op: "set" as const, path: "/status", value: status }],
  ...(condition && { conditions: { condition } }),
});

describe("grouped writes (one Cosmos bulk request for the writes issued together)", () => {
  it("when patches to items in different partitions are issued together, then one bulk request applies them all", async () => {
    const container = cosmos.database.container("events");
    const docs = await seed(container, 12);
    const bulk = vi.spyOn(container.items, "bulk");
    const patches = new GroupedWrites(container);

    await Promise.all(docs.map((d) => patches.patch(setStatus(d, "claimed"))));

    expect(bulk).toHaveBeenCalledTimes(1);
    expect(bulk.mock.calls[0]?.[0]).toHaveLength(12);
    for (const d of docs) expect((await readItem<Doc>(container, d.id, d.partitionKey))?.status).toBe("claimed");
  });

  it("when one patch of a group fails its condition and one meets no item, then only those two fail, each with its own error, and the others are applied", async () => {
    const container = cosmos.database.container("events");
    const docs = await seed(container, 5);
    await createItem(container, { id: "done", partitionKey: "t|done", status: "claimed" });
    const patches = new GroupedWrites(container);
    const final = "from c where NOT (c.status = 'claimed')";

    const results = await Promise.allSettled([
      ...docs.map((d) => patches.patch(setStatus(d, "skipped", final))),
      patches.patch(setStatus({ id: "done", partitionKey: "t|done", status: "" }, "skipped", final)),
      patches.patch(setStatus({ id: "missing", partitionKey: "t|missing", status: "" }, "skipped")),
    ]);

    expect(results.slice(0, 5).every((r) => r.status === "fulfilled")).toBe(true);
    expect(results[5]).toMatchObject({ status: "rejected", reason: { kind: "preconditionFailed" } });
    expect(results[6]).toMatchObject({ status: "rejected", reason: { kind: "notFound" } });
    for (const d of docs) expect((await readItem<Doc>(container, d.id, d.partitionKey))?.status).toBe("skipped");
    expect((await readItem<Doc>(container, "done", "t|done"))?.status).toBe("claimed");
  });

  it("when a patch is alone, then it is sent as a plain patch (a bulk request of one would cost more)", async () => {
    const container = cosmos.database.container("events");
    const [doc] = await seed(container, 1);
    const bulk = vi.spyOn(container.items, "bulk");
    const patches = new GroupedWrites(container);

    await patches.patch(setStatus(doc!, "claimed"));

    expect(bulk).not.toHaveBeenCalled();
    expect((await readItem<Doc>(container, doc!.id, doc!.partitionKey))?.status).toBe("claimed");
  });

  it("when more patches arrive while groups are in flight, then they wait and go together in the next group, none lost", async () => {
    const container = cosmos.database.container("events");
    const docs = await seed(container, 60);
    const bulk = vi.spyOn(container.items, "bulk");
    const patches = new GroupedWrites(container, { lingerMs: 0, maxInFlight: 1 });

    const first = docs.slice(0, 10).map((d) => patches.patch(setStatus(d, "claimed")));
    await new Promise((resolve) => setTimeout(resolve, 5)); // the first group is on its way
    const rest = docs.slice(10).map((d) => patches.patch(setStatus(d, "claimed")));
    await Promise.all([...first, ...rest]);

    expect(bulk.mock.calls.map((c) => c[0].length)).toEqual([10, 50]);
    for (const d of docs) expect((await readItem<Doc>(container, d.id, d.partitionKey))?.status).toBe("claimed");
  });

  it("when Cosmos cannot be reached, then every patch of the group fails with unavailable and a retry-after", async () => {
    const dead = createCosmosClient({ endpoint: `http://127.0.0.1:${await freePort()}`, key: COSMOS_EMULATOR_KEY, requestTimeoutMs: 1000 });
    try {
      const patches = new GroupedWrites(dead.database("nowhere").container("events"));
      const results = await Promise.allSettled([1, 2, 3].map((n) => patches.patch(setStatus({ id: `e${n}`, partitionKey: `t|e${n}`, status: "" }, "claimed"))));
      for (const r of results) {
        expect(r.status).toBe("rejected");
        const reason = (r as PromiseRejectedResult).reason as unknown;
        expect(reason).toBeInstanceOf(AppError);
        expect(reason).toMatchObject({ kind: "unavailable", transient: true });
        expect((reason as AppError).retryAfterSeconds).toBeGreaterThan(0);
      }
    } finally {
      dead.dispose();
    }
  });

  it("when creates are issued together and one id exists already, then one bulk request stores the others and only that one fails as a conflict, the stored item unchanged", async () => {
    const container = cosmos.database.container("events");
    const partition = (id: string) => `t|${id}`;
    await createItem(container, { id: "known", partitionKey: partition("known"), status: "claimed" });
    const bulk = vi.spyOn(container.items, "bulk");
    const writes = new GroupedWrites(container);
    const ids = ["n1", "n2", "known", "n3"].map((id) => (id === "known" ? id : `${id}-${randomUUID()}`));

    const results = await Promise.allSettled(ids.map((id) => writes.create(partition(id), { id, partitionKey: partition(id), status: "queued" })));

    expect(bulk).toHaveBeenCalledTimes(1);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
    expect(results[2]).toMatchObject({ status: "rejected", reason: { kind: "conflict" } });
    for (const id of ids) expect((await readItem<Doc>(container, id, partition(id)))?.status).toBe(id === "known" ? "claimed" : "queued");
  });

  it("when creates arrive a few milliseconds apart within the linger, then they wait for each other and share one request; a create alone is a plain create", async () => {
    const container = cosmos.database.container("events");
    const bulk = vi.spyOn(container.items, "bulk");
    const create = vi.spyOn(container.items, "create");
    const writes = new GroupedWrites(container, { lingerMs: 1000, maxInFlight: 4 }); // far longer than the 15 ms the four take to arrive
    const doc = () => {
      const id = randomUUID();
      return { id, partitionKey: `t|${id}`, status: "queued" };
    };

    const spread: Promise<void>[] = [];
    for (let i = 0; i < 4; i++) {
      const d = doc();
      spread.push(writes.create(d.partitionKey, d));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await Promise.all(spread);
    const lone = doc();
    await writes.create(lone.partitionKey, lone);

    expect(bulk.mock.calls.map((c) => c[0].length)).toEqual([4]);
    expect(create).toHaveBeenCalledTimes(1);
    expect((await readItem<Doc>(container, lone.id, lone.partitionKey))?.status).toBe("queued");
  });
});
