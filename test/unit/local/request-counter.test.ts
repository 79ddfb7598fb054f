import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import { afterEach, describe, expect, it } from "vitest";

const require = createRequire(import.meta.url);
const { countRequests, queueRequestKind, cosmosRequestKind } = require("../../../local/request-counter.cjs") as {
  countRequests: (server: Server, kindOf: (url: string, headers: Record<string, unknown>) => string) => Server;
  queueRequestKind: (url: string) => string;
  cosmosRequestKind: (url: string, headers: Record<string, unknown>) => string;
};

let server: Server | undefined;
afterEach(async () => {
  delete process.env.LOCAL_COUNT_REQUESTS;
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

async function serve(): Promise<string> {
  server = countRequests(createServer((_req, res) => res.end("served")), (url) => queueRequestKind(url));
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe("request counts of the local services (LOCAL_COUNT_REQUESTS=1, benchmarks)", () => {
  it("counts each request by kind and answers /_local/request-counts without passing it to the service", async () => {
    process.env.LOCAL_COUNT_REQUESTS = "1";
    const base = await serve();
    expect(await (await fetch(`${base}/devstoreaccount1/events/messages?numofmessages=32`)).text()).toBe("served");
    await fetch(`${base}/devstoreaccount1/events/messages/abc?popreceipt=x`, { method: "DELETE" });
    await fetch(`${base}/devstoreaccount1/events/messages/def?popreceipt=y`, { method: "DELETE" });
    const counts = (await (await fetch(`${base}/_local/request-counts`)).json()) as { total: number; byKind: Record<string, number> };
    expect(counts).toEqual({ total: 3, byKind: { "GET events messages": 1, "DELETE events message": 2 } });
  });

  it("leaves the service untouched when the variable is not set", async () => {
    const base = await serve();
    expect(await (await fetch(`${base}/_local/request-counts`)).text()).toBe("served");
  });

  it("names Cosmos requests by operation and container", () => {
    const docs = "/dbs/app/colls/claims/docs";
    expect(cosmosRequestKind(docs, {})).toBe("create claims");
    expect(cosmosRequestKind(docs, { "x-ms-documentdb-isquery": "True" })).toBe("query claims");
    expect(cosmosRequestKind(`${docs}/abc`, {})).toBe("item claims");
    expect(cosmosRequestKind(docs, { "x-ms-cosmos-is-batch-request": "True", "x-ms-cosmos-batch-atomic": "True" })).toBe("batch claims");
    expect(cosmosRequestKind(docs, { "x-ms-cosmos-is-batch-request": "true", "x-ms-cosmos-batch-atomic": "false", "x-ms-cosmos-batch-continue-on-error": "true" })).toBe("bulk claims");
  });
});
