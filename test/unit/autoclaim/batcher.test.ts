import { describe, expect, it } from "vitest";
import { Batcher } from "../../../shared/autoclaim/batcher.js";

describe("group commit of claims", () => {
  it("when items arrive together, then they travel in one batch of at most maxItems, and the same user never twice in one batch", async () => {
    const batches: string[][] = [];
    const batcher = new Batcher<string, string>(
      (_key, items) => {
        batches.push(items);
        return Promise.resolve(items.map((i) => `done:${i}`));
      },
      { maxItems: 3, lingerMs: 5, maxInFlight: 1, clash: (a, b) => a === b },
    );
    const results = await Promise.all(["a", "b", "a", "c", "d"].map((i) => batcher.submit("tenant", i)));
    expect(results).toEqual(["done:a", "done:b", "done:a", "done:c", "done:d"]);
    expect(batches.every((b) => b.length <= 3 && new Set(b).size === b.length)).toBe(true);
    expect(batches.flat().sort()).toEqual(["a", "a", "b", "c", "d"]);
  });

  it("when a batch fails, then every item of it fails with that error, and the next batch still runs", async () => {
    let calls = 0;
    const batcher = new Batcher<number, number>(
      (_key, items) => {
        calls++;
        return calls === 1 ? Promise.reject(new Error("Graph down")) : Promise.resolve(items);
      },
      { maxItems: 10, lingerMs: 1, maxInFlight: 1 },
    );
    const first = await Promise.allSettled([batcher.submit("t", 1), batcher.submit("t", 2)]);
    expect(first.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(await batcher.submit("t", 3)).toBe(3);
  });
});
