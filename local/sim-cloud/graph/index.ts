import { z } from "zod";
import { SimError } from "../http/errors.js";
import type { SimRequest, SimResponse } from "../http/types.js";
import { malformedAnswer } from "../faults.js";
import type { SimRuntime } from "../runtime.js";
import { graphError, graphJson, type GraphContext } from "./common.js";
import { resolveRoute, unknownSegment, versionlessPath, type ResolvedRoute } from "./routes.js";

const MAX_BATCH = 20;

const BatchSchema = z.object({
  requests: z.array(z.object({
    id: z.string().min(1),
    method: z.string().min(1),
    url: z.string().min(1),
    headers: z.record(z.string(), z.string()).optional(),
    body: z.unknown().optional(),
    dependsOn: z.array(z.string()).optional(),
  })),
});

/** Microsoft Graph v1.0 (the subset the product uses), under /graph/v1.0. */
export class GraphService {
  constructor(private readonly rt: SimRuntime) {}

  private ctx(): GraphContext {
    return { state: this.rt.state, settings: this.rt.settings, base: `${this.rt.urls.graph}/v1.0`, now: this.rt.now };
  }

  acceptedAudiences(): string[] {
    return ["https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000", this.rt.urls.graph, this.rt.urls.origin];
  }

  kind(req: SimRequest): string {
    const path = versionlessPath(req.path);
    if (path === null) return "other";
    if (path === "/$batch") return "$batch";
    const resolved = resolveRoute(req.method, path);
    return resolved && resolved !== "method" ? resolved.route.kind : "other";
  }

  async handle(req: SimRequest): Promise<SimResponse> {
    const path = versionlessPath(req.path);
    if (path === null) return graphError(400, "BadRequest", `Invalid version: ${req.path.split("/")[1] ?? ""}`, {}, req);
    if (path === "/$batch") {
      if (req.method !== "POST") return graphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.", {}, req);
      return Promise.resolve(this.batch(req));
    }
    return Promise.resolve(this.execute(req, path, true));
  }

  /** Runs one request (top level or a batch item): routing, throttling, the handler, errors. */
  private execute(req: SimRequest, path: string, throttle: boolean): SimResponse {
    const resolved = resolveRoute(req.method, path);
    if (resolved === "method") return graphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.", {}, req);
    if (!resolved) return toGraphError(unknownSegment(path), req);
    if (throttle) {
      const limited = this.throttle(req, resolved);
      if (limited) return limited;
    }
    try {
      return resolved.route.handler(this.ctx(), req, resolved.params);
    } catch (err) {
      if (err instanceof SimError) return toGraphError(err, req);
      throw err;
    }
  }

  /** Identity throttling: resource units per window and writes per window, per app and tenant. */
  throttle(req: SimRequest, resolved: ResolvedRoute): SimResponse | null {
    const limits = this.rt.settings.rateLimits.graph;
    if (!limits.enabled) return null;
    const key = `${req.caller?.appId ?? "anonymous"}|${this.rt.state.tenantId}`;
    const now = this.rt.now();
    const isWrite = req.method !== "GET";
    if (isWrite) {
      const writes = this.rt.limiters.graphWrites.get(key).tryConsume(now, 1, limits.writesPerWindow);
      if (!writes.ok) return tooMany(req, writes.retryAfterSeconds, "WriteLimitExceeded", key);
    }
    const cost = Math.max(1, resolved.route.cost - (req.url.searchParams.has("$select") ? 1 : 0));
    const units = this.rt.limiters.graphUnits.get(key).tryConsume(now, cost, this.rt.graphUnitsPerWindow());
    if (!units.ok) return tooMany(req, units.retryAfterSeconds, "ResourceUnitLimitExceeded", key);
    return null;
  }

  /** POST /$batch: at most 20 requests; each item is faulted and throttled on its own. */
  private batch(req: SimRequest): SimResponse {
    let parsed: z.infer<typeof BatchSchema>;
    try {
      const result = BatchSchema.safeParse(JSON.parse(req.body.toString("utf8")));
      if (!result.success) return graphError(400, "BadRequest", "Invalid batch payload format.", {}, req);
      parsed = result.data;
    } catch {
      return graphError(400, "BadRequest", "Invalid batch payload format.", {}, req);
    }
    const items = parsed.requests;
    if (items.length === 0) return graphError(400, "BadRequest", "Invalid batch payload format: the batch contains no requests.", {}, req);
    if (items.length > MAX_BATCH) {
      return graphError(400, "BadRequest", `Invalid batch payload format: the batch contains ${items.length} requests; at most ${MAX_BATCH} are allowed.`, {}, req);
    }
    const ids = new Set<string>();
    for (const item of items) {
      if (ids.has(item.id)) return graphError(400, "BadRequest", `Invalid batch payload format: duplicate request id '${item.id}'.`, {}, req);
      ids.add(item.id);
    }
    const statusById = new Map<string, number>();
    const responses: unknown[] = [];
    for (const item of items) {
      const failedDependency = (item.dependsOn ?? []).find((d) => (statusById.get(d) ?? 0) >= 400 || !statusById.has(d));
      let res: SimResponse;
      if (failedDependency !== undefined) {
        res = graphError(424, "FailedDependency", `The request depends on request '${failedDependency}', which failed or has not run.`, {}, req);
      } else {
        res = this.executeItem(req, item);
      }
      this.rt.counters.status("graph", res.status);
      statusById.set(item.id, res.status);
      const headers: Record<string, string> = { "Cache-Control": "no-cache" };
      for (const [k, v] of Object.entries(res.headers ?? {})) headers[canonicalHeader(k)] = v;
      if (res.json !== undefined) headers["Content-Type"] = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
      const out: Record<string, unknown> = { id: item.id, status: res.status, headers };
      if (res.json !== undefined) out.body = res.json;
      else if (res.text !== undefined) out.body = res.text;
      responses.push(out);
    }
    return graphJson({ responses });
  }

  private executeItem(outer: SimRequest, item: z.infer<typeof BatchSchema>["requests"][number]): SimResponse {
    const method = item.method.toUpperCase();
    const raw = item.url.replace(/^https?:\/\/[^/]+/i, "");
    const relative = `/${raw.replace(/^\/+/, "").replace(/^graph\//, "").replace(/^(?:v1\.0|beta)\//, "")}`;
    const url = new URL(`${this.rt.urls.graph}/v1.0${relative}`);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(item.headers ?? {})) headers[k.toLowerCase()] = v;
    let body = Buffer.alloc(0);
    if (item.body !== undefined) {
      if (!headers["content-type"]) {
        return graphError(400, "BadRequest", `Write request id : ${item.id} does not contain Content-Type header or body.`, {}, outer);
      }
      body = Buffer.from(typeof item.body === "string" ? item.body : JSON.stringify(item.body), "utf8");
    }
    const req: SimRequest = { method, url, path: url.pathname.slice(new URL(this.rt.urls.graph).pathname.length), headers, body, caller: outer.caller };
    const path = versionlessPath(req.path) ?? "/";
    const resolved = resolveRoute(method, path);
    const kind = resolved && resolved !== "method" ? resolved.route.kind : "other";
    this.rt.counters.batchItem("graph", kind);
    const fault = this.rt.faults.decide("graph", req.path);
    if (fault.kind !== "none") {
      this.rt.counters.fault("graph");
      if (fault.kind === "429") return tooMany(req, fault.retryAfterSeconds, "InjectedFault", "");
      if (fault.kind === "503") return graphError(503, "serviceNotAvailable", "Service unavailable, please try again later.", { "Retry-After": String(fault.retryAfterSeconds) }, req);
      if (fault.kind === "500") return graphError(500, "generalException", "An internal server error occurred (injected fault).", {}, req);
      if (fault.kind === "malformed") return malformedAnswer();
      return graphError(504, "UnknownError", "The request timed out.", {}, req);
    }
    if (resolved && resolved !== "method") {
      const limited = this.throttle(req, resolved);
      if (limited) return limited;
    }
    return this.execute(req, path, false);
  }
}

export function toGraphError(err: SimError, req?: SimRequest): SimResponse {
  return graphError(err.status, err.code, err.message, err.headers, req);
}

export function tooMany(req: SimRequest, retryAfterSeconds: number, information: string, scope: string): SimResponse {
  return graphError(429, "TooManyRequests", `Too many requests. Retry after ${retryAfterSeconds} seconds.`, {
    "Retry-After": String(retryAfterSeconds),
    "x-ms-throttle-information": information,
    ...(scope ? { "x-ms-throttle-scope": `Tenant_Application/ReadWrite/${scope.replace("|", "/")}` } : {}),
  }, req);
}

export function graphUnavailable(req: SimRequest, retryAfterSeconds: number): SimResponse {
  return graphError(503, "serviceNotAvailable", "Service unavailable, please try again later.", { "Retry-After": String(retryAfterSeconds) }, req);
}

function canonicalHeader(name: string): string {
  if (name.toLowerCase() === "retry-after") return "Retry-After";
  return name.split("-").map((p) => (p ? p[0]?.toUpperCase() + p.slice(1) : p)).join("-");
}
