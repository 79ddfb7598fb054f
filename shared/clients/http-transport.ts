import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/**
 * The one connection pool per process for the Microsoft APIs (Graph, Dataverse Web API, Power
 * Platform admin API): node's keep-alive agents. A request through node:https costs far less CPU
 * than through fetch, whose web streams, abort signals and Request/Response objects cost ~0.4 ms per
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
  try {
    return await sendOnce(target, init.method ?? "GET", headers, body);
  } catch (err) {
    // A kept-alive connection the server closed as it was reused: the request never reached it
    // (the race node's documentation describes for `request.reusedSocket`); once more on a new one.
    if (!(err instanceof StaleSocketError)) throw err;
    return sendOnce(target, init.method ?? "GET", headers, body);
  }
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
