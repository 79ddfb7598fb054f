import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { TokenCredential } from "@azure/identity";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGraphClient, retryAfterSeconds } from "../../../shared/clients/graph.js";

let server: Server;
let baseUrl: string;
const seen: IncomingHttpHeaders[] = [];
const credential: TokenCredential = { getToken: () => Promise.resolve({ token: "t", expiresOnTimestamp: Date.now() + 3_600_000 }) };

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("Graph client options", () => {
  it("when the client is for background work, then every request carries x-ms-throttle-priority: low; interactive ones do not", async () => {
    await createGraphClient({ baseUrl, credential, background: true }).api("/users").get();
    await createGraphClient({ baseUrl, credential }).api("/users").get();
    expect(seen.map((h) => h["x-ms-throttle-priority"])).toEqual(["low", undefined]);
  });

  it("when Retry-After is seconds, a date, or absent, then the wait is read accordingly", () => {
    expect(retryAfterSeconds(new Headers({ "Retry-After": "7" }))).toBe(7);
    expect(retryAfterSeconds({ "Retry-After": new Date(Date.now() + 30_000).toUTCString() })).toBeGreaterThanOrEqual(29);
    expect(retryAfterSeconds(new Headers(), 4)).toBe(4);
  });
});
