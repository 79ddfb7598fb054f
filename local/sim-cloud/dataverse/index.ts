import { SimError } from "../http/errors.js";
import type { SimRequest, SimResponse } from "../http/types.js";
import { malformedAnswer } from "../faults.js";
import type { SimRuntime } from "../runtime.js";
import type { DataverseDb } from "../state/dataverse-db.js";
import { countOperations, parseBatch, writeBatchResponse, type BatchRequestPart, type BatchResult } from "./batch.js";
import { callerUser, routeOperation, type DvContext, type DvOperation } from "./handlers.js";
import { dvError, parsePrefer } from "./query.js";

const MAX_BATCH_OPERATIONS = 1000;

class ChangesetFailed extends Error {}
const API_RE = /^\/api\/data\/v9\.[0-2]\/?(.*)$/;

interface Target {
  environmentId: string;
  db: DataverseDb;
  /** Path after /api/data/v9.x/ */
  resource: string;
}

/** The Dataverse Web API of every environment that has a database, under /dataverse/{environmentId}. */
export class DataverseService {
  constructor(private readonly rt: SimRuntime) {}

  environmentOf(req: SimRequest): string {
    return (req.path.split("/")[1] ?? "").toLowerCase();
  }

  acceptedAudiences(req: SimRequest): string[] {
    return [this.rt.urls.dataverse(this.environmentOf(req)), this.rt.urls.origin];
  }

  private target(req: SimRequest): Target | SimResponse {
    const environmentId = this.environmentOf(req);
    const env = this.rt.state.environment(environmentId);
    if (!env?.db) return dvError(404, "0x80040217", `No Dataverse organization exists at this address (environment '${environmentId}').`);
    const rest = req.path.slice(environmentId.length + 1);
    const m = API_RE.exec(rest);
    if (!m) return dvError(404, "0x80060888", `Resource not found for the segment '${rest.split("/").filter(Boolean)[0] ?? ""}'.`);
    return { environmentId, db: env.db, resource: decodeURIComponent(m[1] ?? "") };
  }

  kind(req: SimRequest): string {
    const t = this.target(req);
    if ("status" in t) return "other";
    if (t.resource === "$batch") return "$batch";
    const route = routeOperation({ method: req.method, resource: t.resource, query: req.url.searchParams, headers: req.headers, body: "" });
    return route?.kind ?? "other";
  }

  private limitKey(req: SimRequest): string {
    return `${this.environmentOf(req)}|${req.caller?.objectId ?? "anonymous"}`;
  }

  /** Concurrency limit: called before the request's latency; release() when it completes. */
  admit(req: SimRequest): SimResponse | null {
    const limits = this.rt.settings.rateLimits.dataverse;
    const key = this.limitKey(req);
    const inFlight = this.rt.limiters.dataverseInFlight.get(key) ?? 0;
    if (limits.enabled && inFlight >= limits.maxConcurrent) {
      return this.throttled("0x80072326", `Number of concurrent requests exceeded the limit of ${limits.maxConcurrent}.`, 1);
    }
    this.rt.limiters.dataverseInFlight.set(key, inFlight + 1);
    return null;
  }

  release(req: SimRequest): void {
    const key = this.limitKey(req);
    const n = (this.rt.limiters.dataverseInFlight.get(key) ?? 1) - 1;
    if (n <= 0) this.rt.limiters.dataverseInFlight.delete(key);
    else this.rt.limiters.dataverseInFlight.set(key, n);
  }

  throttled(code: string, message: string, retryAfterSeconds: number): SimResponse {
    return dvError(429, code, message, { "retry-after": String(retryAfterSeconds), "x-ms-dop-hint": String(this.rt.settings.rateLimits.dataverse.dopHint) });
  }

  internalError(): SimResponse {
    return dvError(500, "0x80040216", "An unexpected error occurred (injected fault).");
  }

  unavailable(retryAfterSeconds: number): SimResponse {
    return dvError(503, "0x80040216", "The service is temporarily unavailable. Try again later.", { "retry-after": String(retryAfterSeconds) });
  }

  handle(req: SimRequest): SimResponse {
    const t = this.target(req);
    if ("status" in t) return t;
    const limits = this.rt.settings.rateLimits.dataverse;
    const key = this.limitKey(req);
    const now = this.rt.now();
    const requests = this.rt.limiters.dataverseRequests.get(key);
    const execution = this.rt.limiters.dataverseExecution.get(key);
    if (limits.enabled) {
      const r = requests.tryConsume(now, 1, limits.requestsPerWindow);
      if (!r.ok) return this.throttled("0x80072322", `Number of requests exceeded the limit of ${limits.requestsPerWindow} over time window of ${limits.windowSeconds} seconds.`, r.retryAfterSeconds);
      if (execution.used(now) >= limits.executionMsPerWindow) {
        return this.throttled("0x80072321",
          `Combined execution time of incoming requests exceeded limit of ${limits.executionMsPerWindow.toLocaleString("en-US")} milliseconds over time window of ${limits.windowSeconds} seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.`,
          execution.retryAfterSeconds(now, 1, limits.executionMsPerWindow));
      }
    }
    const ctx = this.context(req, t);
    if (this.rt.settings.dataverse.requireCallerUser && !callerUser(ctx)) {
      return this.decorate(dvError(403, "0x80072560", "The user is not a member of the organization."), key);
    }
    let cost = 0;
    let res: SimResponse;
    if (t.resource === "$batch") {
      if (req.method !== "POST") return dvError(405, "0x80060888", "The HTTP method is not allowed for $batch.");
      const out = this.batch(req, t);
      res = out.response;
      cost = out.cost;
    } else {
      const op: DvOperation = { method: req.method, resource: t.resource, query: req.url.searchParams, headers: req.headers, body: req.body.toString("utf8") };
      const out = this.runOperation(ctx, op);
      res = out.response;
      cost = out.cost;
    }
    if (limits.enabled) execution.add(this.rt.now(), cost);
    return this.decorate(res, key);
  }

  private decorate(res: SimResponse, key: string): SimResponse {
    const limits = this.rt.settings.rateLimits.dataverse;
    const now = this.rt.now();
    const used = this.rt.limiters.dataverseRequests.get(key).used(now);
    const usedMs = this.rt.limiters.dataverseExecution.get(key).used(now);
    res.headers = {
      ...(res.headers ?? {}),
      "x-ms-dop-hint": String(limits.dopHint),
      "x-ms-ratelimit-burst-remaining-xrm-requests": String(Math.max(0, limits.requestsPerWindow - used)),
      "x-ms-ratelimit-time-remaining-xrm-requests": (Math.max(0, limits.executionMsPerWindow - usedMs) / 1000).toFixed(2),
    };
    return res;
  }

  private context(req: SimRequest, t: Target): DvContext {
    return {
      db: t.db,
      settings: this.rt.settings,
      apiBase: `${this.rt.urls.dataverse(t.environmentId)}/api/data/v9.2`,
      caller: req.caller,
      prefer: parsePrefer(req.headers.prefer),
      servicePrincipal: (appId) => this.rt.state.directory.spByAppId.get(appId),
    };
  }

  private runOperation(ctx: DvContext, op: DvOperation): { response: SimResponse; cost: number; ok: boolean } {
    const route = routeOperation(op);
    const dv = this.rt.settings.rateLimits.dataverse;
    if (!route) {
      const seg = op.resource.split(/[(/]/)[0] ?? op.resource;
      return { response: dvError(404, "0x80060888", `Resource not found for the segment '${seg}'.`), cost: dv.msPerRead, ok: false };
    }
    const cost = route.write ? dv.msPerWrite : dv.msPerRead;
    try {
      const response = route.run(ctx, op);
      return { response, cost, ok: response.status < 400 };
    } catch (err) {
      if (err instanceof SimError) return { response: dvError(err.status, err.code, err.message, err.headers), cost, ok: false };
      throw err;
    }
  }

  /** POST $batch: up to 1000 operations; change sets are transactions; stops at the first failure unless Prefer: odata.continue-on-error. */
  private batch(req: SimRequest, t: Target): { response: SimResponse; cost: number } {
    let entries;
    try {
      entries = parseBatch(req.body.toString("utf8"), req.headers["content-type"]);
    } catch (err) {
      if (err instanceof SimError) return { response: dvError(err.status, err.code, err.message), cost: 0 };
      throw err;
    }
    const total = countOperations(entries);
    if (total > MAX_BATCH_OPERATIONS) {
      return { response: dvError(400, "0x80060892", `The number of requests in the batch (${total}) exceeds the limit of ${MAX_BATCH_OPERATIONS}.`), cost: 0 };
    }
    const outerPrefer = parsePrefer(req.headers.prefer);
    const base = this.context(req, t);
    const results: BatchResult[] = [];
    let cost = 0;
    let failedStatus: number | null = null;
    for (const entry of entries) {
      if (entry.kind === "request") {
        this.rt.counters.batchItem("dataverse", this.opKind(entry.request, t));
        const out = this.runPart(base, t, entry.request, new Map(), outerPrefer);
        cost += out.cost;
        this.rt.counters.status("dataverse", out.response.status);
        results.push({ kind: "response", response: out.response, contentId: entry.request.contentId });
        if (!out.ok) {
          failedStatus = out.response.status;
          if (!outerPrefer.continueOnError) break;
        }
        continue;
      }
      const changeset = this.runChangeset(base, t, entry.requests, outerPrefer);
      cost += changeset.cost;
      if (changeset.failure) {
        this.rt.counters.status("dataverse", changeset.failure.status);
        results.push({ kind: "response", response: changeset.failure, contentId: null });
        failedStatus = changeset.failure.status;
        if (!outerPrefer.continueOnError) break;
      } else {
        for (const r of changeset.responses) this.rt.counters.status("dataverse", r.response.status);
        results.push({ kind: "changeset", responses: changeset.responses });
      }
    }
    const { body, contentType } = writeBatchResponse(results);
    const status = failedStatus !== null && !outerPrefer.continueOnError ? failedStatus : 200;
    return { response: { status, text: body, headers: { "content-type": contentType, "odata-version": "4.0" } }, cost };
  }

  /** Runs a change set as one transaction: on the first failure everything it did is undone and that failure is its answer. */
  private runChangeset(base: DvContext, t: Target, parts: BatchRequestPart[], outerPrefer: ReturnType<typeof parsePrefer>): {
    responses: Array<{ response: SimResponse; contentId: string | null }>;
    failure: SimResponse | null;
    cost: number;
  } {
    const refs = new Map<string, string>();
    const responses: Array<{ response: SimResponse; contentId: string | null }> = [];
    const outcome: { failure: SimResponse | null; cost: number } = { failure: null, cost: 0 };
    try {
      t.db.transaction(() => {
        for (const part of parts) {
          this.rt.counters.batchItem("dataverse", this.opKind(part, t));
          const out = this.runPart(base, t, part, refs, outerPrefer);
          outcome.cost += out.cost;
          if (!out.ok) {
            outcome.failure = out.response;
            throw new ChangesetFailed();
          }
          responses.push({ response: out.response, contentId: part.contentId });
          const entityId = out.response.headers?.["odata-entityid"];
          if (part.contentId !== null && entityId) refs.set(part.contentId, entityId);
        }
      });
    } catch (err) {
      if (!(err instanceof ChangesetFailed)) throw err;
    }
    return { responses, failure: outcome.failure, cost: outcome.cost };
  }

  private opKind(part: BatchRequestPart, t: Target): string {
    const resource = this.partResource(part, t, new Map());
    if (resource === null) return "other";
    return routeOperation({ method: part.method, resource: resource.resource, query: resource.query, headers: {}, body: "" })?.kind ?? "other";
  }

  /** Resolves a part's URL (absolute, /api/data/v9.x/…, relative, or a $n Content-ID reference) to a resource path. */
  private partResource(part: BatchRequestPart, t: Target, refs: Map<string, string>): { resource: string; query: URLSearchParams } | null {
    let url = part.url;
    const ref = /^\$(\w+)(.*)$/.exec(url);
    if (ref) {
      const target = refs.get(ref[1] ?? "");
      if (!target) return null;
      url = `${target}${ref[2] ?? ""}`;
    }
    url = url.replace(/^https?:\/\/[^/]+/i, "").replace(/^([^?]*)/, (p) => p.replace(/\/{2,}/g, "/"));
    const envPrefix = `/dataverse/${t.environmentId}`;
    if (url.toLowerCase().startsWith(envPrefix)) url = url.slice(envPrefix.length);
    const api = /^\/?api\/data\/v9\.[0-2]\/(.*)$/.exec(url);
    const rest = api ? (api[1] ?? "") : url.replace(/^\//, "");
    const q = rest.indexOf("?");
    const path = q >= 0 ? rest.slice(0, q) : rest;
    return { resource: decodeURIComponent(path), query: new URLSearchParams(q >= 0 ? rest.slice(q + 1) : "") };
  }

  private runPart(base: DvContext, t: Target, part: BatchRequestPart, refs: Map<string, string>, outerPrefer: ReturnType<typeof parsePrefer>): { response: SimResponse; cost: number; ok: boolean } {
    const resource = this.partResource(part, t, refs);
    if (!resource) return { response: dvError(400, "0x80060888", `The Content-ID reference in '${part.url}' does not resolve.`), cost: 0, ok: false };
    // Fault rules with inBatch: this operation alone is throttled (its own part: 429 + Retry-After) or unavailable.
    const fault = this.rt.faults.decideInBatch("dataverse", `/${t.environmentId}/api/data/v9.2/${resource.resource}`);
    if (fault.kind !== "none") {
      this.rt.counters.fault("dataverse");
      const response = fault.kind === "429"
        ? this.throttled("0x80072322", "Number of requests exceeded the limit (injected fault).", fault.retryAfterSeconds)
        : fault.kind === "503"
          ? this.unavailable(fault.retryAfterSeconds)
          : fault.kind === "500"
            ? this.internalError()
            : malformedAnswer();
      return { response, cost: 0, ok: fault.kind === "malformed" };
    }
    let body = part.body;
    if (refs.size && body) {
      body = body.replace(/"\$(\w+)"/g, (whole, id: string) => (refs.has(id) ? JSON.stringify(refs.get(id)) : whole));
    }
    const prefer = parsePrefer(part.headers.prefer);
    const ctx: DvContext = { ...base, prefer: { ...prefer, maxPageSize: prefer.maxPageSize ?? outerPrefer.maxPageSize } };
    return this.runOperation(ctx, { method: part.method, resource: resource.resource, query: resource.query, headers: part.headers, body });
  }
}
