import type { Container, FeedOptions } from "@azure/cosmos";
import { describe, expect, it } from "vitest";
import { queryPage } from "../../../shared/storage/repository.js";

/**
 * A container whose query answers are scripted: request i returns at most `sizes[i]` items (and
 * never more than maxItemCount), resuming at the offset its continuation token names - like
 * Cosmos, which may answer short or empty while more remain.
 */
function scriptedContainer(total: number, sizes: number[]) {
  const requests: FeedOptions[] = [];
  const container = {
    items: {
      query: (_spec: unknown, options: FeedOptions) => ({
        fetchNext: () => {
          const call = requests.push({ ...options }) - 1;
          const start = options.continuationToken ? Number(options.continuationToken) : 0;
          const size = Math.min(sizes[call] ?? Number.MAX_SAFE_INTEGER, options.maxItemCount ?? 100);
          const end = Math.min(total, start + size);
          const resources = Array.from({ length: end - start }, (_, i) => start + i);
          return Promise.resolve({ resources, continuationToken: end < total ? String(end) : undefined });
        },
      }),
    },
  } as unknown as Container;
  return { container, requests };
}

const spec = { query: "SELECT * FROM c WHERE c.x = @x", parameters: [{ name: "@x", value: 1 }] };

describe("queryPage filling", () => {
  it("when Cosmos answers short, then further requests ask only for the missing items and no item is skipped", async () => {
    const { container, requests } = scriptedContainer(100, [3, 0, 4]);

    const page = await queryPage<number>(container, spec, { limit: 10 });

    expect(page.items).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(requests.map((r) => r.maxItemCount)).toEqual([10, 7, 7, 3]);
    expect(page.continuationToken).toBe("10");
    const next = await queryPage<number>(container, spec, { limit: 10, continuationToken: page.continuationToken });
    expect(next.items[0]).toBe(10);
  });

  it("when the round-trip budget runs out, then the page comes back short with a continuation", async () => {
    const { container, requests } = scriptedContainer(100, [0, 0, 1]);

    const page = await queryPage<number>(container, spec, { limit: 10, maxRoundTrips: 3 });

    expect(page).toEqual({ items: [0], continuationToken: "1" });
    expect(requests).toHaveLength(3);
  });

  it("when the results end, then the continuation is null", async () => {
    const { container } = scriptedContainer(4, []);

    expect(await queryPage<number>(container, spec, { limit: 10 })).toEqual({ items: [0, 1, 2, 3], continuationToken: null });
  });

  it("when the limit is not a positive integer, then it throws", async () => {
    const { container } = scriptedContainer(4, []);

    await expect(queryPage(container, spec, { limit: 0 })).rejects.toThrow(RangeError);
  });
});
