import { randomUUID } from "node:crypto";
import type { Container } from "@azure/cosmos";
import { describe, expect, it } from "vitest";
import { COSMOS_EMULATOR_KEY, freePort } from "../../../local/services.js";
import { AppError } from "../../../shared/errors/app-error.js";
import { ensureDatabaseAndContainers } from "../../../shared/storage/bootstrap.js";
import { CONTAINERS, type ContainerDeclaration } from "../../../shared/storage/containers.js";
import { createCosmosClient, getCosmosClient, getDatabase, resetCosmosClient } from "../../../shared/storage/cosmos.js";
import {
  createItem,
  deleteItem,
  patchIf,
  queryAll,
  queryPage,
  readItem,
  replaceIfMatch,
  transact,
  upsert,
} from "../../../shared/storage/repository.js";
import { useLocalCosmos } from "../../support/cosmos.js";

const cosmos = useLocalCosmos();

interface Doc {
  id: string;
  tenantId: string;
  n: number;
  label?: string;
}

/** A `settings` container scoped to this test: every test writes under its own tenant id. */
function settings(): { container: Container; tenantId: string } {
  return { container: cosmos.database.container("settings"), tenantId: randomUUID() };
}

describe("bootstrap", () => {
  it("when run, then every declared container exists with its partition key and its time to live", async () => {
    for (const declared of CONTAINERS as readonly ContainerDeclaration[]) {
      const { resource } = await cosmos.database.container(declared.name).read();
      expect(resource?.partitionKey?.paths, declared.name).toEqual([declared.partitionKeyPath]);
      expect(resource?.defaultTtl, declared.name).toBe(declared.defaultTtlSeconds);
    }
    // Events expire 100 days after their last write (the report looks back at most 90).
    expect((CONTAINERS as readonly ContainerDeclaration[]).find((c) => c.name === "events")?.defaultTtlSeconds).toBe(100 * 86_400);
  });

  it("when run twice, then it succeeds again", async () => {
    await expect(ensureDatabaseAndContainers(cosmos.client, cosmos.database.id)).resolves.toBeDefined();
  });

  it("when a container exists with another partition key, then it refuses", async () => {
    const name = `test-${randomUUID()}`;
    await ensureDatabaseAndContainers(cosmos.client, name, [{ name: "things", partitionKeyPath: "/a", description: "" }]);

    await expect(ensureDatabaseAndContainers(cosmos.client, name, [{ name: "things", partitionKeyPath: "/b", description: "" }])).rejects.toThrow(
      /partition key/,
    );
  });
});

describe("shared client", () => {
  it("when configured with the local endpoint, then getDatabase reaches the same database", async () => {
    resetCosmosClient();
    getCosmosClient({ endpoint: cosmos.endpoint, key: COSMOS_EMULATOR_KEY });

    const { resource } = await getDatabase(cosmos.database.id).read();

    expect(resource?.id).toBe(cosmos.database.id);
    expect(getCosmosClient()).toBe(getCosmosClient());
  });
});

describe("queryPage", () => {
  it("when 25 items are paged with limit 10, then pages hold 10, 10 and 5 items, none twice, then a null continuation", async () => {
    const { container, tenantId } = settings();
    for (let n = 0; n < 25; n++) await createItem<Doc>(container, { id: `doc-${n}`, tenantId, n });
    const spec = {
      query: "SELECT * FROM c WHERE c.tenantId = @tenantId ORDER BY c.n",
      parameters: [{ name: "@tenantId", value: tenantId }],
    };

    const sizes: number[] = [];
    const seen: number[] = [];
    let continuationToken: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof queryPage<Doc>>> = await queryPage<Doc>(container, spec, {
        limit: 10,
        continuationToken,
        partitionKey: tenantId,
      });
      sizes.push(page.items.length);
      seen.push(...page.items.map((d) => d.n));
      continuationToken = page.continuationToken;
    } while (continuationToken !== null && sizes.length < 10);

    expect(sizes).toEqual([10, 10, 5]);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, n) => n));
  });

  it("when the query has parameters, then only matching items come back", async () => {
    const { container, tenantId } = settings();
    for (let n = 0; n < 6; n++) await createItem<Doc>(container, { id: `doc-${n}`, tenantId, n, label: n % 2 ? "odd" : "even" });

    const page = await queryPage<Doc>(
      container,
      {
        query: "SELECT * FROM c WHERE c.tenantId = @tenantId AND c.label = @label AND c.n > @min",
        parameters: [
          { name: "@tenantId", value: tenantId },
          { name: "@label", value: "odd" },
          { name: "@min", value: 1 },
        ],
      },
      { limit: 50 },
    );

    expect(page.items.map((d) => d.n).sort()).toEqual([3, 5]);
    expect(page.continuationToken).toBeNull();
  });

  it("when a bounded query is read whole, then queryAll returns everything and refuses more than its cap", async () => {
    const { container, tenantId } = settings();
    for (let n = 0; n < 5; n++) await createItem<Doc>(container, { id: `doc-${n}`, tenantId, n });
    const spec = { query: "SELECT * FROM c WHERE c.tenantId = @t", parameters: [{ name: "@t", value: tenantId }] };

    expect(await queryAll<Doc>(container, spec, { partitionKey: tenantId })).toHaveLength(5);
    await expect(queryAll<Doc>(container, spec, { maxItems: 3 })).rejects.toThrow(/more than 3/);
  });
});

describe("point operations", () => {
  it("when an item is missing, then readItem gives undefined", async () => {
    const { container, tenantId } = settings();
    expect(await readItem<Doc>(container, "missing", tenantId)).toBeUndefined();
  });

  it("when an id already exists, then createItem fails with conflict", async () => {
    const { container, tenantId } = settings();
    await createItem<Doc>(container, { id: "dup", tenantId, n: 1 });

    await expect(createItem<Doc>(container, { id: "dup", tenantId, n: 2 })).rejects.toMatchObject({ kind: "conflict" });
    expect((await readItem<Doc>(container, "dup", tenantId))?.n).toBe(1);
  });

  it("when replacing with a stale ETag, then it fails with preconditionFailed and the stored item is unchanged", async () => {
    const { container, tenantId } = settings();
    const created = await createItem<Doc>(container, { id: "s1", tenantId, n: 1 });
    const updated = await replaceIfMatch<Doc>(container, { id: "s1", tenantId, n: 2 }, created._etag);

    const error = await replaceIfMatch<Doc>(container, { id: "s1", tenantId, n: 3 }, created._etag).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ kind: "preconditionFailed", status: 412 });
    const stored = await readItem<Doc>(container, "s1", tenantId);
    expect(stored).toMatchObject({ n: 2, _etag: updated._etag });
  });

  it("when upserting twice, then the second write wins", async () => {
    const { container, tenantId } = settings();
    await upsert<Doc>(container, { id: "u1", tenantId, n: 1 });
    await upsert<Doc>(container, { id: "u1", tenantId, n: 2 });

    expect((await readItem<Doc>(container, "u1", tenantId))?.n).toBe(2);
  });

  it("when deleting with a stale ETag, then it fails; with the current one it deletes; again it reports false", async () => {
    const { container, tenantId } = settings();
    const first = await createItem<Doc>(container, { id: "d1", tenantId, n: 1 });
    const second = await upsert<Doc>(container, { id: "d1", tenantId, n: 2 });

    await expect(deleteItem(container, "d1", tenantId, { ifMatch: first._etag })).rejects.toMatchObject({ kind: "preconditionFailed" });
    expect(await deleteItem(container, "d1", tenantId, { ifMatch: second._etag })).toBe(true);
    expect(await deleteItem(container, "d1", tenantId)).toBe(false);
  });
});

describe("patchIf", () => {
  it("when 20 writers decrement a counter with 5 available under a condition, then exactly 5 succeed", async () => {
    const { container, tenantId } = settings();
    await createItem(container, { id: "sku-counter", tenantId, available: 5 });

    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () =>
        patchIf<{ available: number }>(container, "sku-counter", tenantId, [{ op: "incr", path: "/available", value: -1 }], {
          condition: "from c where c.available > 0",
        }),
      ),
    );

    const succeeded = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(succeeded).toHaveLength(5);
    expect(refused).toHaveLength(15);
    for (const r of refused) expect(r.reason).toMatchObject({ kind: "preconditionFailed" });
    expect((await readItem<{ available: number }>(container, "sku-counter", tenantId))?.available).toBe(0);
  });

  it("when patching with a stale ETag, then it fails with preconditionFailed", async () => {
    const { container, tenantId } = settings();
    const created = await createItem<Doc>(container, { id: "p1", tenantId, n: 1 });
    await patchIf<Doc>(container, "p1", tenantId, [{ op: "set", path: "/n", value: 2 }], { ifMatch: created._etag });

    await expect(
      patchIf<Doc>(container, "p1", tenantId, [{ op: "set", path: "/n", value: 3 }], { ifMatch: created._etag }),
    ).rejects.toMatchObject({ kind: "preconditionFailed" });
    expect((await readItem<Doc>(container, "p1", tenantId))?.n).toBe(2);
  });
});

describe("conditional patches on the local server (local/cosmos-server.cjs), as Azure decides them", () => {
  it("when the condition names a camelCase property, then it is decided on the document's own value (true: patched; false: 412)", async () => {
    const { container, tenantId } = settings();
    await createItem(container, { id: "claim-1", tenantId, expiresAt: "2026-12-01T00:00:00.000Z", status: "pending" });
    await patchIf(container, "claim-1", tenantId, [{ op: "set", path: "/status", value: "claimed" }], { condition: "from c where c.expiresAt > '2026-11-01'" });
    await expect(
      patchIf(container, "claim-1", tenantId, [{ op: "set", path: "/status", value: "x" }], { condition: "from c where c.expiresAt > '2027-01-01'" }),
    ).rejects.toMatchObject({ kind: "preconditionFailed" });
    expect((await readItem<{ status: string }>(container, "claim-1", tenantId))?.status).toBe("claimed");
  });

  it("when other documents of the container satisfy the condition but this one does not, then 412; a missing document is 404", async () => {
    const { container, tenantId } = settings();
    await Promise.all(Array.from({ length: 20 }, (_, i) => createItem(container, { id: `c-${i}`, tenantId, available: i === 0 ? 0 : 5 })));
    await expect(
      patchIf(container, "c-0", tenantId, [{ op: "incr", path: "/available", value: -1 }], { condition: "from c where c.available > 0" }),
    ).rejects.toMatchObject({ kind: "preconditionFailed" });
    await expect(
      patchIf(container, "missing", tenantId, [{ op: "incr", path: "/available", value: -1 }], { condition: "from c where c.available > 0" }),
    ).rejects.toMatchObject({ kind: "notFound" });
  });
});

describe("transactional batches (transact; local/cosmos-server.cjs makes them all or nothing, as Azure does)", () => {
  const take = (id: string) => ({
    operationType: "Patch" as const,
    id,
    resourceBody: { operations: [{ op: "incr" as const, path: "/available", value: -1 }], condition: "from c where c.available > 0" },
  });

  it("when every operation succeeds, then all are applied and each answers its resource", async () => {
    const { container, tenantId } = settings();
    await createItem(container, { id: "counter", tenantId, available: 2 });
    const outcome = await transact(container, tenantId, [{ operationType: "Create", resourceBody: { id: "lock", tenantId, n: 1 } }, take("counter")]);
    expect(outcome.ok).toBe(true);
    expect(outcome.ok && outcome.results.map((r) => (r.resource as { id: string }).id)).toEqual(["lock", "counter"]);
    expect(outcome.ok && outcome.results.every((r) => r.etag === (r.resource as { _etag: string })._etag)).toBe(true);
    expect((await readItem<{ available: number }>(container, "counter", tenantId))?.available).toBe(1);
    expect(await readItem(container, "lock", tenantId)).toBeDefined();
  });

  it("when a later operation's condition fails, then the earlier create is undone and the failing one is named (412)", async () => {
    const { container, tenantId } = settings();
    const counter = await createItem(container, { id: "counter", tenantId, available: 0 });
    const outcome = await transact(container, tenantId, [{ operationType: "Create", resourceBody: { id: "lock", tenantId, n: 1 } }, take("counter")]);
    expect(outcome).toEqual({ ok: false, index: 1, statusCode: 412 });
    expect(await readItem(container, "lock", tenantId)).toBeUndefined();
    expect((await readItem(container, "counter", tenantId))?._etag).toBe(counter._etag);
  });

  it("when the first operation conflicts (409), then the later patch is not applied", async () => {
    const { container, tenantId } = settings();
    await createItem(container, { id: "lock", tenantId, n: 0 });
    await createItem(container, { id: "counter", tenantId, available: 3 });
    const outcome = await transact(container, tenantId, [{ operationType: "Create", resourceBody: { id: "lock", tenantId, n: 1 } }, take("counter")]);
    expect(outcome).toEqual({ ok: false, index: 0, statusCode: 409 });
    expect((await readItem<{ available: number }>(container, "counter", tenantId))?.available).toBe(3);
    expect((await readItem<Doc>(container, "lock", tenantId))?.n).toBe(0);
  });

  it("when a replace under a stale ETag follows a patch, then the patch is undone to the very version it changed", async () => {
    const { container, tenantId } = settings();
    const counter = await createItem(container, { id: "counter", tenantId, available: 1 });
    const lock = await createItem<Doc>(container, { id: "lock", tenantId, n: 0 });
    await patchIf(container, "lock", tenantId, [{ op: "set", path: "/n", value: 5 }]);
    const outcome = await transact(container, tenantId, [take("counter"), { operationType: "Replace", id: "lock", ifMatch: lock._etag, resourceBody: { id: "lock", tenantId, n: 9 } }]);
    expect(outcome).toEqual({ ok: false, index: 1, statusCode: 412 });
    const after = await readItem<{ available: number }>(container, "counter", tenantId);
    expect(after?.available).toBe(1);
    expect(after?._etag).toBe(counter._etag);
    expect((await readItem<Doc>(container, "lock", tenantId))?.n).toBe(5);
  });

  it("when 30 batches race for 10 units, each with its own lock document, then exactly 10 locks exist and the counter is 0", async () => {
    const { container, tenantId } = settings();
    await createItem(container, { id: "counter", tenantId, available: 10 });
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, (_, i) => transact(container, tenantId, [{ operationType: "Create", resourceBody: { id: `lock-${i}`, tenantId, n: i } }, take("counter")])),
    );
    expect(outcomes.filter((o) => o.ok)).toHaveLength(10);
    expect(outcomes.filter((o) => !o.ok).every((o) => !o.ok && o.index === 1 && o.statusCode === 412)).toBe(true);
    const locks = await queryAll<string>(container, { query: "SELECT VALUE c.id FROM c WHERE c.tenantId = @t AND STARTSWITH(c.id, 'lock-')", parameters: [{ name: "@t", value: tenantId }] });
    expect(locks).toHaveLength(10);
    expect((await readItem<{ available: number }>(container, "counter", tenantId))?.available).toBe(0);
  });
});

describe("an unreachable endpoint", () => {
  it("when Cosmos cannot be reached, then the helpers fail fast with unavailable and a retry-after", async () => {
    const closedPort = await freePort();
    const dead = createCosmosClient({ endpoint: `http://127.0.0.1:${closedPort}`, key: COSMOS_EMULATOR_KEY, requestTimeoutMs: 1000 });
    const container = dead.database("nowhere").container("settings");
    const started = Date.now();

    try {
      const read = await readItem(container, "x", "t").catch((e: unknown) => e);
      const write = await createItem(container, { id: "x", tenantId: "t" }).catch((e: unknown) => e);
      const query = await queryPage(container, { query: "SELECT * FROM c" }, { limit: 1 }).catch((e: unknown) => e);
      // The SDK rethrows a failed batch request as a plain Error without its status.
      const batch = await transact(container, "t", [{ operationType: "Create", resourceBody: { id: "x", tenantId: "t" } }]).catch((e: unknown) => e);

      for (const error of [read, write, query, batch]) {
        expect(error).toBeInstanceOf(AppError);
        expect(error).toMatchObject({ kind: "unavailable", transient: true });
        expect((error as AppError).retryAfterSeconds).toBeGreaterThan(0);
      }
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      dead.dispose();
    }
  });
});
