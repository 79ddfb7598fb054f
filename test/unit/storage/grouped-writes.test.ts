import type { Container } from "@azure/cosmos";
import { describe, expect, it, vi } from "vitest";
import { GroupedWrites } from "../../../shared/storage/grouped-writes.js";

/** A container whose bulk requests answer the given statuses, and whose point patches and creates succeed. */
function fakeContainer(bulkStatuses: number[]) {
  const bulk = vi.fn(() => Promise.resolve(bulkStatuses.map((statusCode) => ({ statusCode, requestCharge: 1 }))));
  const patched: string[] = [];
  const created: string[] = [];
  const container = {
    items: {
      bulk,
      create: (item: { id: string }) => {
        created.push(item.id);
        return Promise.resolve({ resource: { ...item, _etag: "e", _ts: 1 } });
      },
    },
    item: (id: string) => ({
      patch: () => {
        patched.push(id);
        return Promise.resolve({ resource: { id, _etag: "e", _ts: 1 } });
      },
    }),
  } as unknown as Container;
  return { container, bulk, patched, created };
}

const request = (id: string) => ({ id, partitionKey: `t|${id}`, operations: [{ op: "set" as const, path: "/status", value: "claimed" }] });

describe("grouped writes at the SDK boundary", () => {
  it("when one patch of a bulk request is throttled (429), then it goes again on its own and succeeds; the others are not sent again", async () => {
    const { container, bulk, patched } = fakeContainer([200, 429, 200]);
    const patches = new GroupedWrites(container);

    const results = await Promise.allSettled(["a", "b", "c"].map((id) => patches.patch(request(id))));

    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled"]);
    expect(bulk).toHaveBeenCalledTimes(1);
    expect(patched).toEqual(["b"]);
  });

  it("when the bulk request answers without a result for a patch, then that patch fails as unavailable, not as done", async () => {
    const { container } = fakeContainer([200]);
    const patches = new GroupedWrites(container);

    const results = await Promise.allSettled(["a", "b"].map((id) => patches.patch(request(id))));

    expect(results[0]?.status).toBe("fulfilled");
    expect(results[1]).toMatchObject({ status: "rejected", reason: { kind: "unavailable" } });
  });

  it("when one create of a bulk request is throttled (429), then it goes again on its own as a plain create; a refused one (409) is a conflict, not sent again", async () => {
    const { container, bulk, created } = fakeContainer([201, 429, 409]);
    const writes = new GroupedWrites(container);

    const results = await Promise.allSettled(["a", "b", "c"].map((id) => writes.create(`t|${id}`, { id, partitionKey: `t|${id}` })));

    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
    expect(results[2]).toMatchObject({ status: "rejected", reason: { kind: "conflict" } });
    expect(bulk).toHaveBeenCalledTimes(1);
    expect(created).toEqual(["b"]);
  });
});
