/**
 * The HTTP front door: routes requests under the route prefix to HTTP-triggered functions the way
 * the host does (route templates, functions tried in name order, method filter), passes them to the worker pipeline
 * as RPC HTTP data, and writes the RPC HTTP response back. Also a few of the host's `/admin`
 * endpoints (notably `POST /admin/functions/{name}` to run a non-HTTP function) and, optionally,
 * a JSON listing at `/`.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import type { RegisteredFunction, RpcHttpCookie, RpcHttpData, RpcNullableString, RpcTypedData } from "./core.js";
import { sysMetadata, typedDataToBuffer, type Invoker, type InvokeOutcome } from "./invoke.js";
import { errorMessage, type HostLogger } from "./log.js";
import type { OutputWriter } from "./outputs.js";
import type { FunctionInfo } from "./registrations.js";
import { compareFunctionNames, matchRoute, splitPath, type RouteTemplate } from "./routes.js";

export interface HttpRoute {
  fn: RegisteredFunction;
  triggerName: string;
  template: RouteTemplate;
  /** Upper-case; undefined = every method. */
  methods: Set<string> | undefined;
}

export interface FrontDoorOptions {
  routePrefix: string;
  routes: HttpRoute[];
  invoker: Invoker;
  outputs: OutputWriter;
  logger: HostLogger;
  /** Functions for `GET /` and `GET /admin/functions` (with their state). */
  listing: () => unknown[];
  /** Runs a non-HTTP function for `POST /admin/functions/{name}`; false when the name is unknown. */
  runFunction: (name: string, input: unknown) => "started" | "unknown" | "http";
  /** Status for a route that matches but not for this method: 404 like Azure (default), or 405. */
  methodMismatchStatus: 404 | 405;
  cors?: { origins: string[]; credentials: boolean };
  /** The worker's HTTP streaming proxy (`HttpUri` capability), when the app enabled streaming. */
  streamUri?: string;
  /** Serve the JSON listing at `GET /` (default true). */
  listingAtRoot: boolean;
}

const NO_BODY_STATUS = new Set([204, 205, 304]);

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body, null, 2));
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": bytes.length });
  res.end(bytes);
}

function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { "content-length": 0 });
  res.end();
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Header values joined with "," like ASP.NET Core's StringValues. */
function nullableMap(entries: Iterable<[string, string]>): Record<string, RpcNullableString> {
  const map: Record<string, RpcNullableString> = {};
  for (const [k, v] of entries) map[k] = { value: v };
  return map;
}

function queryEntries(url: URL): [string, string][] {
  const keys = [...new Set(url.searchParams.keys())];
  return keys.map((k) => [k, url.searchParams.getAll(k).join(",")]);
}

function headerEntries(req: IncomingMessage): [string, string][] {
  return Object.entries(req.headersDistinct).map(([k, v]) => [k.toLowerCase(), (v ?? []).join(",")]);
}

function serializeCookie(c: RpcHttpCookie): string {
  const parts = [`${c.name ?? ""}=${encodeURIComponent(c.value ?? "")}`];
  if (c.domain?.value) parts.push(`Domain=${c.domain.value}`);
  if (c.path?.value) parts.push(`Path=${c.path.value}`);
  const expires = c.expires?.value?.seconds;
  if (expires !== undefined && expires !== null) parts.push(`Expires=${new Date(Number(expires) * 1000).toUTCString()}`);
  if (c.maxAge?.value !== undefined && c.maxAge.value !== null) parts.push(`Max-Age=${Math.trunc(c.maxAge.value)}`);
  if (c.secure?.value) parts.push("Secure");
  if (c.httpOnly?.value) parts.push("HttpOnly");
  if (c.sameSite === "lax") parts.push("SameSite=Lax");
  else if (c.sameSite === "strict") parts.push("SameSite=Strict");
  else if (c.sameSite === "explicitNone") parts.push("SameSite=None");
  return parts.join("; ");
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "content-length", "te", "trailer", "proxy-connection"]);

export class FrontDoor {
  readonly server: http.Server;
  readonly #routes: HttpRoute[];

  constructor(private readonly options: FrontDoorOptions) {
    // The host's order: by function name; the first route whose template and method match wins.
    this.#routes = [...options.routes].sort((a, b) => compareFunctionNames(a.fn.metadata.name, b.fn.metadata.name));
    this.server = http.createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        options.logger.error(`Request ${req.method} ${req.url} failed in the host: ${errorMessage(err)}`);
        if (!res.headersSent) sendEmpty(res, 500);
        else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 5_000;
  }

  #applyCors(req: IncomingMessage, res: ServerResponse): boolean {
    const cors = this.options.cors;
    const origin = req.headers.origin;
    if (!cors || !origin) return false;
    const allowed = cors.origins.includes("*") || cors.origins.some((o) => o.toLowerCase() === origin.toLowerCase());
    if (!allowed) return false;
    res.setHeader("access-control-allow-origin", cors.origins.includes("*") && !cors.credentials ? "*" : origin);
    if (cors.credentials) res.setHeader("access-control-allow-credentials", "true");
    res.setHeader("vary", "Origin");
    if (req.method === "OPTIONS" && req.headers["access-control-request-method"]) {
      res.setHeader("access-control-allow-methods", req.headers["access-control-request-method"]);
      const requested = req.headers["access-control-request-headers"];
      if (requested) res.setHeader("access-control-allow-headers", requested);
      sendEmpty(res, 204);
      return true;
    }
    return false;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "127.0.0.1"}`);
    if (this.#applyCors(req, res)) return;
    const pathname = url.pathname;
    if (/^\/admin(\/|$)/i.test(pathname)) return this.#admin(req, res, pathname);

    const prefix = this.options.routePrefix;
    let below: string | undefined = pathname;
    if (prefix) {
      const lower = pathname.toLowerCase();
      const p = `/${prefix.toLowerCase()}`;
      below = lower === p || lower === `${p}/` ? "" : lower.startsWith(`${p}/`) ? pathname.slice(p.length) : undefined;
    }
    if (below !== undefined) {
      const segments = splitPath(below);
      let methodMismatch = false;
      for (const route of this.#routes) {
        const params = matchRoute(route.template, segments);
        if (!params) continue;
        if (route.methods && !route.methods.has((req.method ?? "GET").toUpperCase())) {
          methodMismatch = true;
          continue;
        }
        return this.#invokeHttp(route, params, url, req, res);
      }
      if (methodMismatch) {
        await readBody(req);
        return sendEmpty(res, this.options.methodMismatchStatus);
      }
    }
    if (pathname === "/" && req.method === "GET" && this.options.listingAtRoot) {
      return sendJson(res, 200, { functions: this.options.listing() });
    }
    await readBody(req);
    sendEmpty(res, 404);
  }

  async #admin(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    const body = await readBody(req);
    const method = (req.method ?? "GET").toUpperCase();
    const fnMatch = /^\/admin\/functions\/([^/]+)\/?$/i.exec(pathname);
    if (method === "GET" && /^\/admin\/host\/status\/?$/i.test(pathname)) {
      return sendJson(res, 200, { id: "local", state: "Running", version: "4.0.0-local", processUptime: Math.round(process.uptime() * 1000) });
    }
    if (method === "GET" && /^\/admin\/functions\/?$/i.test(pathname)) return sendJson(res, 200, this.options.listing());
    if (fnMatch && method === "GET") {
      const name = decodeURIComponent(fnMatch[1]!).toLowerCase();
      const info = this.options.listing().find((f) => (f as FunctionInfo).name.toLowerCase() === name);
      return info ? sendJson(res, 200, info) : sendEmpty(res, 404);
    }
    if (fnMatch && method === "POST") {
      let input: unknown;
      if (body.length > 0) {
        try {
          input = (JSON.parse(body.toString("utf8")) as { input?: unknown }).input;
        } catch {
          return sendJson(res, 400, { error: 'The body must be JSON like {"input": "..."}' });
        }
      }
      const outcome = this.options.runFunction(decodeURIComponent(fnMatch[1]!), input);
      if (outcome === "unknown") return sendEmpty(res, 404);
      if (outcome === "http") return sendJson(res, 400, { error: "HTTP-triggered functions are called on their route" });
      return sendEmpty(res, 202);
    }
    sendEmpty(res, 404);
  }

  async #invokeHttp(route: HttpRoute, params: Record<string, string>, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.options.streamUri) return this.#invokeStreaming(route, params, url, req, res);
    const body = await readBody(req);
    const httpData: RpcHttpData = {
      method: (req.method ?? "GET").toUpperCase(),
      url: url.href,
      nullableHeaders: nullableMap(headerEntries(req)),
      nullableQuery: nullableMap(queryEntries(url)),
      nullableParams: nullableMap(Object.entries(params)),
      ...(body.length > 0 ? { body: { bytes: body } } : {}),
    };
    const outcome = await this.options.invoker.invoke({
      fn: route.fn,
      reason: "This function was programmatically called via the host APIs.",
      inputData: [{ name: route.triggerName, data: { http: httpData } }],
      triggerMetadata: { sys: sysMetadata(route.fn.metadata.name) },
    });
    if (!(await this.#completed(route, outcome))) return sendEmpty(res, 500);
    if (!outcome.succeeded) return;
    this.#writeRpcResponse(req, res, outcome.response.returnValue?.http ?? undefined);
  }

  /** Writes output bindings; false when the invocation (or an output) failed. */
  async #completed(route: HttpRoute, outcome: InvokeOutcome): Promise<boolean> {
    if (!outcome.succeeded) return false;
    try {
      await this.options.outputs.write(route.fn, outcome.response);
      return true;
    } catch (err) {
      this.options.logger.error(`Function '${route.fn.metadata.name}': writing output bindings failed: ${errorMessage(err)}`);
      return false;
    }
  }

  #writeRpcResponse(req: IncomingMessage, res: ServerResponse, httpData: RpcHttpData | undefined): void {
    // No HTTP output: 204 No Content, as the host answers in Functions 2.x and later.
    if (!httpData) return sendEmpty(res, 204);
    const status = Number.parseInt(httpData.statusCode ?? "200", 10) || 200;
    for (const [key, value] of Object.entries(httpData.headers ?? {})) {
      if (!HOP_BY_HOP.has(key.toLowerCase())) res.setHeader(key, value);
    }
    const cookies = (httpData.cookies ?? []).map(serializeCookie);
    if (cookies.length > 0) {
      const existing = res.getHeader("set-cookie");
      res.setHeader("set-cookie", [...(existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)]), ...cookies]);
    }
    const noBody = NO_BODY_STATUS.has(status) || req.method === "HEAD";
    const body = noBody ? Buffer.alloc(0) : typedDataToBuffer(httpData.body);
    if (!NO_BODY_STATUS.has(status)) res.setHeader("content-length", body.length);
    res.writeHead(status);
    res.end(body);
  }

  /**
   * HTTP streaming (`app.setup({ enableHttpStream: true })`): like the host, forward the raw
   * request to the worker's proxy with `x-ms-invocation-id`, and relay the proxy's response.
   */
  async #invokeStreaming(route: HttpRoute, params: Record<string, string>, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const invocationId = randomUUID();
    const triggerMetadata: Record<string, RpcTypedData> = {
      Query: { json: JSON.stringify(Object.fromEntries(queryEntries(url))) },
      Headers: { json: JSON.stringify(Object.fromEntries(headerEntries(req))) },
      sys: sysMetadata(route.fn.metadata.name),
    };
    for (const [k, v] of Object.entries(params)) triggerMetadata[k] = { string: v };
    const invocation = this.options.invoker.invoke({
      fn: route.fn,
      invocationId,
      reason: "This function was programmatically called via the host APIs.",
      inputData: [{ name: route.triggerName, data: undefined }],
      triggerMetadata,
    });
    const target = new URL(url.pathname + url.search, this.options.streamUri);
    let relayed: Promise<void> | undefined;
    const proxyReq = http.request(target, {
      method: req.method ?? "GET",
      headers: { ...req.headers, "x-ms-invocation-id": invocationId, "x-forwarded-host": url.host, "x-forwarded-proto": "http" },
    });
    proxyReq.on("response", (proxyRes) => {
      relayed = new Promise<void>((resolve) => {
        const headers = { ...proxyRes.headers };
        delete headers["x-ms-invocation-id"];
        for (const name of Object.keys(headers)) if (HOP_BY_HOP.has(name) && name !== "content-length") delete headers[name];
        res.writeHead(proxyRes.statusCode ?? 200, headers);
        proxyRes.pipe(res);
        res.on("close", () => resolve());
      });
    });
    proxyReq.on("error", () => undefined);
    req.pipe(proxyReq);
    const outcome = await invocation;
    const ok = await this.#completed(route, outcome);
    if (!ok || (outcome.succeeded && (outcome.result === null || outcome.result === undefined) && !relayed)) {
      proxyReq.destroy();
      if (!res.headersSent) sendEmpty(res, ok ? 204 : 500);
      else if (!ok) res.destroy();
      return;
    }
    await new Promise<void>((resolve) => (res.writableFinished ? resolve() : res.on("close", () => resolve())));
  }
}
