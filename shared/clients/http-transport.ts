import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { connect as http2Connect, constants as http2Constants, type ClientHttp2Session, type IncomingHttpHeaders as Http2Headers } from "node:http2";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";

/**
 * The one connection pool per process for the Microsoft APIs (Graph, Dataverse Web API, Power
 * Platform admin API): one HTTP/2 session per origin where the server offers HTTP/2, otherwise
 * node's keep-alive agents. A request through node:https or node:http2 costs far less CPU than
 * through fetch, whose web streams, abort signals and Request/Response objects cost ~0.4 ms per
 * call here - more than the rest of a Graph call's client work - and the sync sends one addUser per
 * user it adds. The body is read whole: these APIs answer JSON or multipart text.
 */
export interface RawRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * Idle connections are closed after 60 s, or before the server's own `Keep-Alive: timeout=N` hint
 * (node's agent honours the hint only below an agent timeout, and without one it reuses a socket
 * the server has just closed).
 */
const IDLE_MS = 60_000;
const agents = {
  https: new HttpsAgent({ keepAlive: true, maxSockets: 64, timeout: IDLE_MS }),
  http: new HttpAgent({ keepAlive: true, maxSockets: 64, timeout: IDLE_MS }),
};

export async function httpSend(url: string, init: RawRequest): Promise<RawResponse> {
  const target = new URL(url);
  const headers: Record<string, string | number> = { ...init.headers };
  const body = init.body === undefined ? undefined : typeof init.body === "string" ? Buffer.from(init.body, "utf8") : init.body;
  if (body) headers["Content-Length"] = body.byteLength;
  const method = init.method ?? "GET";
  const send = async () => {
    const session = target.protocol === "https:" ? await http2SessionFor(target) : null;
    return session ? sendOnHttp2(session, target, method, headers, body) : sendOnce(target, method, headers, body);
  };
  try {
    return await send();
  } catch (err) {
    // A kept-alive connection the server closed as it was reused: the request never reached it
    // (the race node's documentation describes for `request.reusedSocket`; for HTTP/2 a session
    // going away, or a stream the server refused unprocessed); once more on a new one.
    if (!(err instanceof StaleSocketError)) throw err;
    return send();
  }
}

/**
 * HTTP/2 where the server offers it (ALPN; Graph, Dataverse and the admin API do): the requests to
 * one origin share one TLS connection, and requests made together leave in one write. On this
 * machine a loopback write costs more CPU than the rest of a request's client work, and the sync
 * sends one addUser per user it adds. An origin that answers HTTP/1.1 keeps the agent above.
 */
const sessions = new Map<string, Promise<ClientHttp2Session | null>>();
const http1Origins = new Set<string>();
/** Streams in flight per session: an idle session must not keep the process alive. */
const inFlight = new WeakMap<ClientHttp2Session, number>();

async function http2SessionFor(target: URL): Promise<ClientHttp2Session | null> {
  const origin = target.origin;
  if (http1Origins.has(origin)) return null;
  let pending = sessions.get(origin);
  if (!pending) {
    const opening = openSession(target);
    sessions.set(origin, opening);
    opening.catch(() => {
      if (sessions.get(origin) === opening) sessions.delete(origin);
    });
    pending = opening;
  }
  const session = await pending;
  if (session && (session.closed || session.destroyed)) {
    // Closing, its events not yet seen: a new one.
    if (sessions.get(origin) === pending) sessions.delete(origin);
    return http2SessionFor(target);
  }
  return session;
}

function openSession(target: URL): Promise<ClientHttp2Session | null> {
  const origin = target.origin;
  const host = target.hostname.replace(/^\[|\]$/g, "");
  const opening: Promise<ClientHttp2Session | null> = new Promise((resolve, reject) => {
    const socket: TLSSocket = tlsConnect({
      host,
      port: Number(target.port || 443),
      ALPNProtocols: ["h2", "http/1.1"],
      ...(isIP(host) ? {} : { servername: host }),
    });
    socket.once("error", reject);
    socket.setTimeout(30_000, () => socket.destroy(Object.assign(new Error("TLS connection timed out"), { code: "ETIMEDOUT" })));
    socket.once("secureConnect", () => {
      socket.off("error", reject);
      socket.setTimeout(0);
      if (socket.alpnProtocol !== "h2") {
        socket.destroy();
        http1Origins.add(origin);
        resolve(null);
        return;
      }
      // A dead peer is found by TCP keep-alive (and a stream's timeout, below), not after the kernel's 15 minutes.
      socket.setKeepAlive(true, 30_000);
      // Windows large enough that one connection carries Graph's and Dataverse's large pages at full speed (the default is 64 KiB).
      const session = http2Connect(origin, { createConnection: () => socket, settings: { enablePush: false, initialWindowSize: STREAM_WINDOW } });
      session.once("connect", () => session.setLocalWindowSize(SESSION_WINDOW));
      const forget = () => {
        if (sessions.get(origin) === opening) sessions.delete(origin);
      };
      session.on("error", forget); // its streams see the error; the next request opens a new session
      session.on("goaway", (_code: number, lastStreamId: number) => {
        goneAfter.set(session, lastStreamId);
        forget();
      });
      session.on("close", forget);
      session.setTimeout(IDLE_MS, () => session.close());
      session.unref();
      resolve(session);
    });
  });
  return opening;
}

function sendOnHttp2(session: ClientHttp2Session, target: URL, method: string, headers: Record<string, string | number>, body: Uint8Array | undefined): Promise<RawResponse> {
  const h2headers: Record<string, string | number> = { ":method": method, ":path": `${target.pathname}${target.search}` };
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!CONNECTION_HEADERS.has(lower)) h2headers[lower] = value;
  }
  return new Promise((resolve, reject) => {
    let stream;
    try {
      stream = session.request(h2headers, { endStream: !body });
    } catch (err) {
      // The session closed between lookup and use: nothing was sent. Anything else is a mistake of ours, not the network's.
      const code = (err as { code?: unknown }).code;
      reject(code === "ERR_HTTP2_INVALID_SESSION" || code === "ERR_HTTP2_GOAWAY_SESSION" ? new StaleSocketError(err) : err instanceof Error ? err : new Error(String(err)));
      return;
    }
    track(session, +1);
    let status = 0;
    let timedOut = false;
    let failure: unknown;
    let responseHeaders: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h: Http2Headers) => {
      status = Number(h[":status"] ?? 502);
      responseHeaders = withoutPseudoHeaders(h);
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.setTimeout(REQUEST_TIMEOUT_MS, () => {
      timedOut = true;
      stream.close(http2Constants.NGHTTP2_CANCEL);
      checkAlive(session);
    });
    stream.on("error", (err: Error) => {
      failure = err; // the outcome is decided on close
    });
    stream.on("close", () => {
      track(session, -1);
      if (status && stream.rstCode === http2Constants.NGHTTP2_NO_ERROR) {
        resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks) });
        return;
      }
      // Sent again only when the server certainly did not process it (RFC 9113 8.7): refused, never
      // sent, or beyond the last stream a GOAWAY said it would process; or a method that may be repeated.
      const id = stream.id ?? 0;
      const lastProcessed = goneAfter.get(session);
      const unprocessed = !status && (stream.rstCode === http2Constants.NGHTTP2_REFUSED_STREAM || id === 0 || (lastProcessed !== undefined && id > lastProcessed) || (IDEMPOTENT.has(method) && session.destroyed));
      const err = Object.assign(new Error(timedOut ? "request timed out" : `HTTP/2 stream closed (code ${stream.rstCode})`, { cause: failure }), {
        code: timedOut ? "ETIMEDOUT" : "ECONNRESET",
      });
      reject(unprocessed ? new StaleSocketError(err) : err);
    });
    if (body) stream.end(body);
  });
}

const REQUEST_TIMEOUT_MS = 120_000;
const STREAM_WINDOW = 4 * 1024 * 1024;
const SESSION_WINDOW = 16 * 1024 * 1024;
const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);
/** A session's GOAWAY: streams above this id were not processed by the server. */
const goneAfter = new WeakMap<ClientHttp2Session, number>();

/** After a request timed out: a session whose peer does not answer a PING soon is dropped, so the next requests open a new one. */
function checkAlive(session: ClientHttp2Session): void {
  if (session.destroyed || session.closed) return;
  const dead = setTimeout(() => session.destroy(Object.assign(new Error("The connection did not answer a PING."), { code: "ETIMEDOUT" })), 10_000);
  dead.unref();
  const sent = session.ping((err) => {
    clearTimeout(dead);
    if (err) session.destroy(err);
  });
  if (!sent) {
    clearTimeout(dead);
    session.destroy();
  }
}

/** Headers HTTP/2 forbids (RFC 9113 8.2.2); the origin goes in `:authority`. */
const CONNECTION_HEADERS = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host"]);

function withoutPseudoHeaders(h: Http2Headers): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (!k.startsWith(":")) out[k] = v;
  return out;
}

function track(session: ClientHttp2Session, delta: 1 | -1): void {
  const n = (inFlight.get(session) ?? 0) + delta;
  inFlight.set(session, n);
  if (session.destroyed) return;
  if (n === 1 && delta === 1) session.ref();
  if (n === 0) session.unref();
}

class StaleSocketError extends Error {
  readonly code = "ECONNRESET"; // a network error to whoever sees it (shared/errors/network.ts)
  constructor(readonly cause: unknown) {
    super("A kept-alive connection was closed by the server as it was reused.");
  }
}

function sendOnce(target: URL, method: string, headers: Record<string, string | number>, body: Uint8Array | undefined): Promise<RawResponse> {
  const secure = target.protocol === "https:";
  return new Promise((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)(
      target,
      { method, headers, agent: secure ? agents.https : agents.http, timeout: 120_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error("request timed out"), { code: "ETIMEDOUT" })));
    req.on("error", (err: NodeJS.ErrnoException) => reject(req.reusedSocket && err.code === "ECONNRESET" ? new StaleSocketError(err) : err));
    req.end(body);
  });
}
