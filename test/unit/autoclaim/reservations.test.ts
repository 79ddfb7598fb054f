import { describe, expect, it } from "vitest";
import { distribute, shardOf } from "../../../shared/autoclaim/reservations.js";

describe("reservation counters (A10)", () => {
  it("when units are added, then they are spread evenly over the shards", () => {
    const changes = distribute([0, 1, 2, 3].map((shard) => ({ shard, available: 0 })), 10);
    expect([...changes.values()].reduce((a, b) => a + b, 0)).toBe(10);
    expect(Math.max(...changes.values()) - Math.min(...changes.values())).toBeLessThanOrEqual(1);
  });

  it("when units are taken away, then from the fullest shards first and never below zero", () => {
    const changes = distribute([{ shard: 0, available: 5 }, { shard: 1, available: 1 }, { shard: 2, available: 0 }], -4);
    expect(changes.get(0)).toBe(-4);
    expect(changes.get(2)).toBeUndefined();
    const all = distribute([{ shard: 0, available: 2 }, { shard: 1, available: 1 }], -10);
    expect([...all.values()].reduce((a, b) => a + b, 0)).toBe(-3);
  });

  it("when a user's start shard is computed, then it is stable and within range", () => {
    expect(shardOf("user-a", 8)).toBe(shardOf("user-a", 8));
    const seen = new Set(Array.from({ length: 200 }, (_, i) => shardOf(`user-${i}`, 8)));
    expect(seen.size).toBe(8);
  });
});
