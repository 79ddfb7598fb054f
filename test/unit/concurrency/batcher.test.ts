import { afterEach, describe, expect, it, vi } from "vitest";
import { Batcher, ItemFailure } from "../../../shared/concurrency/batcher.js";

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

  it("when one item of a batch fails on its own (an ItemFailure), then only its caller's promise is rejected, with its error; an item without a result is rejected too", async () => {
    const refused = new Error("refused");
    const batcher = new Batcher<number, number>(
      (_key, items) => Promise.resolve(items.slice(0, 3).map((i) => (i === 2 ? new ItemFailure(refused) : i * 10))),
      { maxItems: 10, lingerMs: 1, maxInFlight: 1 },
    );
    const results = await Promise.allSettled([1, 2, 3, 4].map((i) => batcher.submit("t", i)));
    expect(results).toEqual([
      { status: "fulfilled", value: 10 },
      { status: "rejected", reason: refused },
      { status: "fulfilled", value: 30 },
      { status: "rejected", reason: new Error("The batch returned no result for an item.") },
    ]);
  });

  describe("timing (fake clock)", () => {
    afterEach(() => vi.useRealTimers());

    it("when a batch is not full, then it waits lingerMs for more items; a full one goes at once", async () => {
      vi.useFakeTimers();
      const sent: number[][] = [];
      const batcher = new Batcher<number, number>((_k, items) => (sent.push(items), Promise.resolve(items)), { maxItems: 3, lingerMs: 40, maxInFlight: 4 });
      const lone = batcher.submit("t", 1);
      await vi.advanceTimersByTimeAsync(39);
      expect(sent).toEqual([]);
      void batcher.submit("t", 2);
      void batcher.submit("t", 3); // the batch is full: no waiting for the rest of the 40 ms
      await vi.advanceTimersByTimeAsync(0);
      expect(sent).toEqual([[1, 2, 3]]);
      expect(await lone).toBe(1);
      void batcher.submit("t", 4);
      await vi.advanceTimersByTimeAsync(39);
      expect(sent).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(sent).toEqual([[1, 2, 3], [4]]);
    });

    it("when maxInFlight batches of a key are running, then the next waits for one to finish; other keys are not held up", async () => {
      vi.useFakeTimers();
      const running: { key: string; items: number[]; done: () => void }[] = [];
      const batcher = new Batcher<number, number>(
        (key, items) => new Promise((resolve) => running.push({ key, items, done: () => resolve(items) })),
        { maxItems: 1, lingerMs: 5, maxInFlight: 2 },
      );
      const results = [1, 2, 3, 4].map((i) => batcher.submit("t", i));
      const other = batcher.submit("u", 9);
      await vi.advanceTimersByTimeAsync(10);
      expect(running.filter((r) => r.key === "t").map((r) => r.items)).toEqual([[1], [2]]);
      expect(running.some((r) => r.key === "u")).toBe(true);
      running[0]!.done();
      await vi.advanceTimersByTimeAsync(0);
      expect(running.filter((r) => r.key === "t").map((r) => r.items)).toEqual([[1], [2], [3]]);
      for (let round = 0; round < 4; round++) {
        running.forEach((r) => r.done()); // finishing the rest lets the last one start
        await vi.advanceTimersByTimeAsync(10);
      }
      expect(await Promise.all(results)).toEqual([1, 2, 3, 4]);
      expect(await other).toBe(9);
    });
  });
});
