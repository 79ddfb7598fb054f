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

const agents = { https: new HttpsAgent({ keepAlive: true, maxSockets: 64 }), http: new HttpAgent({ keepAlive: true, maxSockets: 64 }) };

export function httpSend(url: string, init: RawRequest): Promise<RawResponse> {
  const target = new URL(url);
  const secure = target.protocol === "https:";
  const headers: Record<string, string | number> = { ...init.headers };
  const body = init.body === undefined ? undefined : typeof init.body === "string" ? Buffer.from(init.body, "utf8") : init.body;
  if (body) headers["Content-Length"] = body.byteLength;
  return new Promise((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)(
      target,
      { method: init.method ?? "GET", headers, agent: secure ? agents.https : agents.http, timeout: 120_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error("request timed out"), { code: "ETIMEDOUT" })));
    req.on("error", reject);
    req.end(body);
  });
}
