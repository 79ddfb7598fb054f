import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { beforeAll, describe, expect, it } from "vitest";

/**
 * local/azurite-patches.cjs keeps Azurite's LokiJS indexes current, so a queue request costs the
 * same with 10 or 10,000 messages stored: no request may rebuild (re-sort) an index of the whole
 * collection. Answers must not change.
 */
const require = createRequire(import.meta.url);
interface LokiCollection {
  binaryIndices: Record<string, { dirty: boolean }>;
  ensureIndex(property: string, force?: boolean): void;
  find(q: object): object[];
  count(q?: object): number;
}
interface Db { getCollection(name: string): LokiCollection }
type QueueStore = {
  db: Db;
  MESSAGES_COLLECTION: string;
  init(): Promise<void>;
  createQueue(q: object): Promise<void>;
  insertMessage(m: object): Promise<void>;
  getMessages(a: string, q: string, next: Date, pop: string, n: number): Promise<{ messageId: string; popReceipt: string }[]>;
  deleteMessage(a: string, q: string, id: string, pop: string): Promise<void>;
  peekMessages(a: string, q: string, n: number): Promise<{ messageId: string }[]>;
};
type ExtentStore = { db: Db; EXTENTS_COLLECTION: string; init(): Promise<void>; updateExtent(e: object): Promise<void>; deleteExtent(id: string): Promise<void> };
const { applyAzuritePatches, LokiQueueMetadataStore, LokiExtentMetadata } = require("../../../local/azurite-patches.cjs") as {
  applyAzuritePatches: () => void;
  LokiQueueMetadataStore: new (path: string, inMemory: boolean) => QueueStore;
  LokiExtentMetadata: new (path: string, inMemory: boolean) => ExtentStore;
};

const account = "devstoreaccount1";
const queue = "q";

beforeAll(() => applyAzuritePatches());

async function queueStore(messages: { id: string; expiresIn: number }[]): Promise<QueueStore> {
  const store = new LokiQueueMetadataStore(`mem-${randomUUID()}`, true);
  await store.init();
  await store.createQueue({ accountName: account, name: queue, metadata: {} });
  const now = Date.now();
  for (const m of messages) {
    await store.insertMessage({
      accountName: account,
      queueName: queue,
      messageId: m.id,
      popReceipt: "p0",
      timeNextVisible: new Date(now - 1000),
      insertionTime: new Date(now - 1000),
      expirationTime: new Date(now + m.expiresIn),
      dequeueCount: 0,
      persistency: { id: `extent-${m.id}`, offset: 0, count: 1 },
    });
  }
  return store;
}

/** Counts index rebuilds of the whole collection (LokiJS sorts all documents for each). */
function rebuilds(coll: LokiCollection): () => number {
  let n = 0;
  const ensureIndex = coll.ensureIndex.bind(coll);
  coll.ensureIndex = (property, force) => {
    if (force || coll.binaryIndices[property]?.dirty) n++;
    ensureIndex(property, force);
  };
  return () => n;
}

describe("Azurite queue store (local/azurite-patches.cjs)", () => {
  it("keeps the messages' indexes current across receive, delete and peek when nothing has expired", async () => {
    const store = await queueStore(Array.from({ length: 50 }, (_, i) => ({ id: `m${i}`, expiresIn: 3_600_000 })));
    const coll = store.db.getCollection(store.MESSAGES_COLLECTION);
    const rebuilt = rebuilds(coll);
    const got = await store.getMessages(account, queue, new Date(Date.now() + 60_000), "p1", 10);
    expect(got).toHaveLength(10);
    await store.deleteMessage(account, queue, got[0]!.messageId, "p1");
    expect(await store.peekMessages(account, queue, 32)).toHaveLength(32); // 40 visible, 32 at most
    expect(rebuilt()).toBe(0);
    expect(coll.count()).toBe(49);
  });

  it("still removes expired messages before answering", async () => {
    const store = await queueStore([
      { id: "old", expiresIn: -1 },
      { id: "live", expiresIn: 3_600_000 },
    ]);
    const got = await store.getMessages(account, queue, new Date(Date.now() + 60_000), "p1", 32);
    expect(got.map((m) => m.messageId)).toEqual(["live"]);
    expect(store.db.getCollection(store.MESSAGES_COLLECTION).count()).toBe(1);
  });
});

describe("Azurite extent store (local/azurite-patches.cjs)", () => {
  it("removes extents one by one with the id index kept current (the GC deletes thousands at a time)", async () => {
    const store = new LokiExtentMetadata(`mem-${randomUUID()}`, true);
    await store.init();
    for (let i = 0; i < 100; i++) await store.updateExtent({ id: `e${i}`, locationId: "loc", path: `e${i}`, size: 1, lastModifiedInMS: Date.now() });
    const coll = store.db.getCollection(store.EXTENTS_COLLECTION);
    expect(coll.find({ id: "e10" })).toHaveLength(1); // the index is built
    const rebuilt = rebuilds(coll);
    for (let i = 0; i < 30; i++) await store.deleteExtent(`e${i}`);
    await store.deleteExtent("missing");
    expect(rebuilt()).toBe(0);
    expect(coll.count()).toBe(70);
    expect(coll.find({ id: "e5" })).toHaveLength(0);
    expect(coll.find({ id: "e50" })).toHaveLength(1);
  });
});
