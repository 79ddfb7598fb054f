import { spawn } from "node:child_process";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { constants, createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from "node:http2";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../../local/paths.js";
import { ensureLocalTls } from "../../../local/tls.js";
import { httpSend } from "../../../shared/clients/http-transport.js";

/**
 * The Microsoft APIs over TLS: HTTP/2 where the server offers it (ALPN), so requests to one origin
 * share a connection and leave together; HTTP/1.1 through the keep-alive agent where it does not.
 */
const tls = ensureLocalTls();
let h2: Http2SecureServer;
let h2Base: string;
let h1: HttpsServer;
let h1Base: string;
const h2Connections = new Set<Socket>();
const h2Sessions = new Set<ServerHttp2Session>();
let h1Connections = 0;
/** Paths whose stream the HTTP/2 server resets instead of answering. */
const resetPaths = new Set<string>();

/** Requests received per path; paths in `dieOnce` have their connection die under the first one, after it was read. */
const received = new Map<string, number>();
const dieOnce = new Set<string>();

function answer(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const url = req.url ?? "";
    received.set(url, (received.get(url) ?? 0) + 1);
    if ("stream" in req && resetPaths.has(req.url)) {
      req.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    if ("stream" in req && dieOnce.delete(url)) {
      req.stream.session?.destroy(); // the request was read: whether it was processed is not known to the client
      return;
    }
    res.setHeader("content-type", "application/json");
    res.setHeader("x-answer", "yes");
    res.end(JSON.stringify({ httpVersion: req.httpVersion, method: req.method, path: req.url, body: Buffer.concat(chunks).toString(), authorization: req.headers.authorization ?? null }));
  });
}

beforeAll(async () => {
  h2 = createSecureServer({ cert: tls.cert, key: tls.key, allowHTTP1: true }, answer);
  h2.on("connection", (s: Socket) => {
    h2Connections.add(s);
    s.on("close", () => h2Connections.delete(s));
  });
  h2.on("session", (s: ServerHttp2Session) => {
    h2Sessions.add(s);
    s.on("close", () => h2Sessions.delete(s));
  });
  await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
  h2Base = `https://127.0.0.1:${(h2.address() as { port: number }).port}`;
  h1 = createHttpsServer({ cert: tls.cert, key: tls.key }, answer);
  h1.on("connection", () => h1Connections++);
  await new Promise<void>((resolve) => h1.listen(0, "127.0.0.1", resolve));
  h1Base = `https://127.0.0.1:${(h1.address() as { port: number }).port}`;
});
afterAll(async () => {
  for (const s of h2Connections) s.destroy();
  h1.closeAllConnections();
  await Promise.all([new Promise((r) => h2.close(r)), new Promise((r) => h1.close(r))]);
});

const json = (res: { body: Buffer }) => JSON.parse(res.body.toString()) as Record<string, unknown>;

describe("httpSend over TLS", () => {
  it("when the server offers HTTP/2, then requests made together share one connection, and status, headers and body come back", async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => httpSend(`${h2Base}/bap/addUser?n=${i}`, { method: "POST", headers: { Authorization: "Bearer t", "Content-Type": "application/json", Connection: "keep-alive" }, body: `{"n":${i}}` })),
    );

    for (const [i, res] of answers.entries()) {
      expect(res.status).toBe(200);
      expect(res.headers["x-answer"]).toBe("yes");
      expect(res.headers[":status"]).toBeUndefined();
      expect(json(res)).toEqual({ httpVersion: "2.0", method: "POST", path: `/bap/addUser?n=${i}`, body: `{"n":${i}}`, authorization: "Bearer t" });
    }
    expect(h2Connections.size).toBe(1);
  });

  it("when the server speaks HTTP/1.1 only, then requests go through the keep-alive agent", async () => {
    const first = await httpSend(`${h1Base}/a`, { headers: { Accept: "application/json" } });
    const second = await httpSend(`${h1Base}/b`, { method: "POST", body: "{}" });

    expect(json(first)).toMatchObject({ httpVersion: "1.1", method: "GET", path: "/a" });
    expect(json(second)).toMatchObject({ httpVersion: "1.1", method: "POST", body: "{}" });
    // One connection to learn the protocol (ALPN), then the agent's kept-alive one.
    expect(h1Connections).toBe(2);
  });

  it("when the server has closed the HTTP/2 connection since the last request, then the next request opens a new one", async () => {
    expect(json(await httpSend(`${h2Base}/before`, {}))).toMatchObject({ httpVersion: "2.0" });
    const closed = [...h2Sessions].map((s) => new Promise((r) => s.once("close", r)));
    for (const s of h2Sessions) s.close();
    await Promise.all(closed);

    const res = await httpSend(`${h2Base}/after`, {});

    expect(res.status).toBe(200);
    expect(json(res)).toMatchObject({ httpVersion: "2.0", path: "/after" });
  });

  it("when the server resets one request's stream, then that request fails as a network error and the others on the connection are answered", async () => {
    resetPaths.add("/reset-me");
    const [reset, other] = await Promise.allSettled([httpSend(`${h2Base}/reset-me`, {}), httpSend(`${h2Base}/fine`, {})]);

    expect(reset.status).toBe("rejected");
    expect((reset as PromiseRejectedResult).reason).toMatchObject({ code: "ECONNRESET" });
    expect(other.status).toBe("fulfilled");
    expect(json((other as PromiseFulfilledResult<{ body: Buffer }>).value)).toMatchObject({ path: "/fine" });
  });

  it("when the connection dies under a request the server has read, then a POST is not sent again (it may have been processed) and fails as a network error; a GET is sent again", async () => {
    dieOnce.add("/post-dies");
    dieOnce.add("/get-dies");

    const post = await httpSend(`${h2Base}/post-dies`, { method: "POST", body: "{}" }).then(() => "answered", (err: { code?: string }) => err.code);
    const get = await httpSend(`${h2Base}/get-dies`, {});

    expect(post).toBe("ECONNRESET");
    expect(received.get("/post-dies")).toBe(1);
    expect(get.status).toBe(200);
    expect(received.get("/get-dies")).toBe(2);
  });

  it("when a request carries a header HTTP/2 forbids, then it fails as our mistake, not as a network error to retry", async () => {
    const err = await httpSend(`${h2Base}/te`, { headers: { TE: "gzip" } }).then(() => undefined, (e: { code?: string }) => e);
    expect(err?.code).toMatch(/^ERR_HTTP2_/);
  });

  it("when a process's last request is answered, then its idle HTTP/2 connection does not keep it alive", async () => {
    const script = `import { httpSend } from ${JSON.stringify(path.join(repoRoot, "shared/clients/http-transport.ts"))};
const res = await httpSend(${JSON.stringify(`${h2Base}/once`)}, {});
process.stdout.write(JSON.parse(res.body.toString()).httpVersion);`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: repoRoot, env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.caPath }, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    // Without unref the session would hold the process for its 60 s idle timeout: the test's timeout fails it.
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));

    expect({ code, out }).toEqual({ code: 0, out: "2.0" });
  }, 30_000);
});
