import { describe, expect, it } from "vitest";
import { mapLimited } from "../../../shared/concurrency/pool.js";

describe("mapLimited", () => {
  it("when many items are mapped, then at most `limit` run at once and the results keep the items' order", async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimited([5, 1, 4, 2, 3, 0], 2, async (n, i) => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setImmediate(resolve));
      running--;
      return `${i}:${n}`;
    });
    expect(out).toEqual(["0:5", "1:1", "2:4", "3:2", "4:3", "5:0"]);
    expect(most).toBe(2);
  });

  it("when one item fails, then the whole rejects with its error", async () => {
    await expect(mapLimited([1, 2, 3], 2, (n) => (n === 2 ? Promise.reject(new Error("two")) : Promise.resolve(n)))).rejects.toThrow("two");
  });
});
