import type { Client } from "@microsoft/microsoft-graph-client";
import { describe, expect, it } from "vitest";
import { sendBatch, type BatchRequestItem } from "../../../shared/clients/graph-batch.js";

type Answer = { status: number; headers?: Record<string, string>; body?: unknown };

/** A Graph client whose $batch answers each item from a script (one entry per send of that id). */
function scriptedClient(script: Record<string, Answer[]>) {
  const sent: string[][] = [];
  const client = {
    api: () => ({
      post: (body: { requests: { id: string }[] }) => {
        sent.push(body.requests.map((r) => r.id));
        return Promise.resolve({ responses: body.requests.map((r) => ({ id: r.id, ...(script[r.id]?.shift() ?? { status: 200 }) })) });
      },
    }),
  } as unknown as Client;
  return { client, sent };
}

const items: BatchRequestItem[] = ["a", "b", "c"].map((id) => ({ id, method: "POST", url: `/users/${id}/assignLicense`, body: {} }));

describe("sendBatch (Graph $batch items throttled on their own)", () => {
  it("when some items come back 429, then only those are sent again after the longest Retry-After", async () => {
    const { client, sent } = scriptedClient({ b: [{ status: 429, headers: { "Retry-After": "2" } }], c: [{ status: 503, headers: { "retry-after": "3" } }] });
    const waits: number[] = [];
    const results = await sendBatch(client, items, { sleep: (ms) => (waits.push(ms), Promise.resolve()) });
    expect(sent).toEqual([["a", "b", "c"], ["b", "c"]]);
    expect(waits).toEqual([3000]);
    expect([...results.values()].map((r) => [r.id, r.status, r.attempts])).toEqual([["a", 200, 1], ["b", 200, 2], ["c", 200, 2]]);
  });

  it("when an item stays throttled past the retry budget, then it comes back with its Retry-After and is not retried again", async () => {
    const always429 = Array.from({ length: 10 }, () => ({ status: 429, headers: { "Retry-After": "1" } }));
    const { client, sent } = scriptedClient({ a: always429 });
    const results = await sendBatch(client, items.slice(0, 1), { budget: { maxRetries: 2, maxDelaySeconds: 10 }, sleep: () => Promise.resolve() });
    expect(sent).toHaveLength(3);
    expect(results.get("a")).toMatchObject({ status: 429, retryAfterSeconds: 1 });
  });

  it("when Retry-After is longer than the budget allows, then the item is not waited for", async () => {
    const { client, sent } = scriptedClient({ a: [{ status: 429, headers: { "Retry-After": "30" } }] });
    const results = await sendBatch(client, items.slice(0, 1), { budget: { maxRetries: 3, maxDelaySeconds: 10 }, sleep: () => Promise.resolve() });
    expect(sent).toHaveLength(1);
    expect(results.get("a")?.retryAfterSeconds).toBe(30);
  });

  it("when an item timed out (504) and its retry was throttled, then its result says it is uncertain: Graph may have done it", async () => {
    const { client } = scriptedClient({ a: [{ status: 504 }, { status: 429, headers: { "Retry-After": "1" } }], b: [{ status: 429, headers: { "Retry-After": "1" } }, { status: 429, headers: { "Retry-After": "1" } }] });
    const results = await sendBatch(client, items.slice(0, 2), { budget: { maxRetries: 1, maxDelaySeconds: 10 }, sleep: () => Promise.resolve() });
    expect(results.get("a")).toMatchObject({ status: 429, uncertain: true });
    expect(results.get("b")).toMatchObject({ status: 429 });
    expect(results.get("b")).not.toHaveProperty("uncertain");
  });

  it("when more than 20 requests are given, then it refuses (Graph's limit)", async () => {
    const { client } = scriptedClient({});
    await expect(sendBatch(client, Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: "GET" as const, url: "/x" })))).rejects.toThrow(/20/);
  });
});
