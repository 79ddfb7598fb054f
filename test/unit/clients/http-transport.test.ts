import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpSend } from "../../../shared/clients/http-transport.js";

/**
 * The keep-alive pool the Microsoft API adapters share. A server may close an idle connection just
 * as the client reuses it: the request never reached the server, and is sent once more on a new one.
 */
let server: Server;
let base: string;
const requestsPerSocket = new Map<Socket, number>();
let dropOnSecondRequest = true;
let connections = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const n = (requestsPerSocket.get(req.socket) ?? 0) + 1;
    requestsPerSocket.set(req.socket, n);
    if (n === 2 && dropOnSecondRequest) {
      dropOnSecondRequest = false;
      req.socket.destroy(); // as if the idle connection had been closed just before this request arrived
      return;
    }
    req.resume();
    req.on("end", () => res.end(JSON.stringify({ n, method: req.method })));
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("httpSend", () => {
  it("when a reused keep-alive connection is closed under the request, then the request is sent once more on a new connection", async () => {
    const first = await httpSend(`${base}/a`, { method: "POST", body: "{}" });
    expect(first.status).toBe(200);
    const second = await httpSend(`${base}/b`, { method: "POST", body: "{}" });
    expect(second.status).toBe(200);
    expect(JSON.parse(second.body.toString())).toEqual({ n: 1, method: "POST" }); // the first request of a new connection
    expect(connections).toBe(2);
  });

  it("when the server answers, then status, headers and the whole body come back", async () => {
    const res = await httpSend(`${base}/c`, { headers: { Accept: "application/json" } });
    expect(res.status).toBe(200);
    expect(res.headers["content-length"]).toBe(String(res.body.length));
    expect(JSON.parse(res.body.toString())).toMatchObject({ method: "GET" });
  });
});
