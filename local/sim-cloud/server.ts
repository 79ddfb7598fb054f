import type { IncomingMessage, ServerResponse } from "node:http";
import { constants as http2Constants, createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import type { Socket } from "node:net";
import type { DevSigningKey } from "../dev-identity.js";
import { AdminService } from "./admin/index.js";
import { BapService } from "./bap/index.js";
import type { CounterSnapshot } from "./counters.js";
import { malformedAnswer, type FaultDecision } from "./faults.js";
import { DataverseService } from "./dataverse/index.js";
import { dvError } from "./dataverse/query.js";
import { buildDemoTenant } from "./demo-tenant.js";
import { graphError } from "./graph/common.js";
import { GraphService, graphUnavailable, tooMany } from "./graph/index.js";
import type { SimRequest, SimResponse } from "./http/types.js";
import { LoginService } from "./login/index.js";
import { audienceMatches, TokenVerifier } from "./login/verify.js";
import { SimRuntime, type SimUrls } from "./runtime.js";
import { defaultSettings, applySettingsPatch, type FaultRule, type ServiceName, type SimSettings } from "./settings.js";
import { prepareFixture, type ParsedFixture, type TenantFixture } from "./state/fixture.js";
import { TenantState } from "./state/tenant-state.js";

export type FaultRuleInput = Partial<FaultRule>;

export interface SimCloudOptions {
  /** 0 (default) = any free port. The server listens on 127.0.0.1 only. */
  port?: number;
  tls: { cert: string; key: string };
  /** The key the simulated authority signs with and every service verifies against. */
  signingKey: DevSigningKey;
  /** The tenant (default: the demo tenant). */
  fixture?: TenantFixture | ParsedFixture;
  /** Added latency per request, for all services or per service. */
  latencyMs?: number | Partial<Record<ServiceName, number>>;
  /** Fault injection rules (429 / 503 / timeouts), deterministic for a given seed. */
  faults?: FaultRuleInput | FaultRuleInput[];
  /** Rate limits (false = none). Partial objects merge with the defaults. */
  rateLimits?: false | { graph?: Partial<SimSettings["rateLimits"]["graph"]>; dataverse?: Partial<SimSettings["rateLimits"]["dataverse"]>; bap?: Partial<SimSettings["rateLimits"]["bap"]> };
  /** PRNG seed of fault injection. */
  seed?: number;
  /** Any other settings (see settings.ts), merged last. */
  settings?: Record<string, unknown>;
  /** Clock (tests). */
  now?: () => number;
}

export interface SimCloud {
  /** https://127.0.0.1:<port> */
  url: string;
  port: number;
  tenantId: string;
  /** Base URL for the Graph client (…/graph); requests go to …/graph/v1.0/… */
  graphBaseUrl: string;
  /** Base URL of the Power Platform admin API (…/bap). */
  bapBaseUrl: string;
  /** Authority host for @azure/identity (…/login). */
  authorityHost: string;
  /**
   * The environment's Dataverse URL as the environment list reports it in instanceUrl:
   * https://127.0.0.1:<port>/dataverse/{environmentId}/ (with the trailing slash, so clients that
   * resolve "api/data/v9.2" against it, like dynamics-web-api, keep the environment segment).
   */
  dataverseUrl(environmentId: string): string;
  /** Direct access to the simulated tenant (tests). */
  state: TenantState;
  runtime: SimRuntime;
  settings(): SimSettings;
  updateSettings(patch: Record<string, unknown>): SimSettings;
  counters(): CounterSnapshot;
  resetCounters(): void;
  /** Back to the fixture (or a new one); counters and limits restart. */
  reset(fixture?: TenantFixture | ParsedFixture): void;
  /** Every delta token issued so far answers 410 Gone from now on. */
  expireDeltaTokens(): void;
  close(): Promise<void>;
}

/** Settings from start options: defaults, then the option shortcuts, then `settings`. */
export function settingsFromOptions(opts: Omit<SimCloudOptions, "tls" | "signingKey">): SimSettings {
  let s = defaultSettings();
  const patch: Record<string, unknown> = {};
  if (opts.latencyMs !== undefined) patch.latencyMs = opts.latencyMs;
  if (opts.faults !== undefined) patch.faults = Array.isArray(opts.faults) ? opts.faults : [opts.faults];
  if (opts.seed !== undefined) patch.seed = opts.seed;
  if (opts.rateLimits === false) patch.rateLimits = { graph: { enabled: false }, dataverse: { enabled: false }, bap: { enabled: false } };
  else if (opts.rateLimits) patch.rateLimits = opts.rateLimits;
  s = applySettingsPatch(s, patch);
  if (opts.settings) s = applySettingsPatch(s, opts.settings);
  return s;
}

type ServiceKey = "graph" | "dataverse" | "bap" | "login" | "admin";

function routeService(pathname: string): { service: ServiceKey; path: string } | null {
  const prefixes: Array<[string, ServiceKey]> = [["/graph", "graph"], ["/dataverse", "dataverse"], ["/bap", "bap"], ["/login", "login"], ["/_admin", "admin"]];
  for (const [prefix, service] of prefixes) {
    if (pathname === prefix || pathname.startsWith(`${prefix}/`)) return { service, path: pathname.slice(prefix.length) || "/" };
  }
  if (pathname.startsWith("/common/")) return { service: "login", path: pathname };
  return null;
}

/** Starts the simulated Microsoft cloud (Graph, Dataverse, Power Platform admin API, authority) on 127.0.0.1. */
export async function startSimCloud(opts: SimCloudOptions): Promise<SimCloud> {
  const now = opts.now ?? Date.now;
  let fixture: ParsedFixture = prepareFixture(opts.fixture ?? buildDemoTenant());
  const state = new TenantState(fixture, now);
  const settings = settingsFromOptions(opts);
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  /** Pending latency sleeps; close() ends them at once so no timer outlives the server. */
  const sleeps = new Map<NodeJS.Timeout, () => void>();
  const sleep = (ms: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      sleeps.delete(timer);
      resolve();
    }, ms);
    sleeps.set(timer, resolve);
  });

  // HTTP/2 where the client offers it (ALPN), as Microsoft's front ends do, and HTTP/1.1 otherwise.
  const server: Http2SecureServer = createSecureServer({ cert: opts.tls.cert, key: opts.tls.key, allowHTTP1: true });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const origin = `https://127.0.0.1:${port}`;
  const urls: SimUrls = {
    origin,
    graph: `${origin}/graph`,
    bap: `${origin}/bap`,
    authorityHost: `${origin}/login`,
    dataverse: (id) => `${origin}/dataverse/${id.toLowerCase()}`,
  };
  const rt = new SimRuntime(state, settings, urls, now);
  const verifier = new TokenVerifier(opts.signingKey.publicJwk, urls.authorityHost, () => rt.state.tenantId, now);
  const graph = new GraphService(rt);
  const dataverse = new DataverseService(rt);
  const bap = new BapService(rt);
  const login = new LoginService(opts.signingKey, urls.authorityHost, () => rt.state, () => rt.settings.tokenLifetimeSeconds, now);
  const admin = new AdminService(rt, () => fixture, (f) => {
    fixture = f;
  });

  function unauthorized(service: ServiceKey, message: string, req: SimRequest): SimResponse {
    const challenge = { "www-authenticate": `Bearer realm="", authorization_uri="${urls.authorityHost}/${rt.state.tenantId}/oauth2/authorize", error="invalid_token"` };
    if (service === "graph") return graphError(401, "InvalidAuthenticationToken", message, challenge, req);
    if (service === "dataverse") return dvError(401, "0x80072560", message, challenge);
    return { status: 401, headers: { "content-type": "application/json; charset=utf-8", ...challenge }, json: { error: { code: "InvalidAuthenticationToken", message } } };
  }

  function faultResponse(service: ServiceKey, fault: Exclude<FaultDecision, { kind: "none" } | { kind: "timeout" }>, req: SimRequest): SimResponse {
    if (fault.kind === "malformed") return malformedAnswer();
    if (service === "graph") {
      if (fault.kind === "500") return graphError(500, "generalException", "An internal server error occurred (injected fault).", {}, req);
      return fault.kind === "429" ? tooMany(req, fault.retryAfterSeconds, "InjectedFault", "") : graphUnavailable(req, fault.retryAfterSeconds);
    }
    if (service === "dataverse") {
      if (fault.kind === "500") return dataverse.internalError();
      return fault.kind === "429"
        ? dataverse.throttled("0x80072322", "Number of requests exceeded the limit (injected fault).", fault.retryAfterSeconds)
        : dataverse.unavailable(fault.retryAfterSeconds);
    }
    if (fault.kind === "500") return bap.internalError();
    return fault.kind === "429" ? bap.throttled(fault.retryAfterSeconds) : bap.unavailable(fault.retryAfterSeconds);
  }

  async function pipeline(service: ServiceKey, req: SimRequest): Promise<SimResponse | { hangMs: number }> {
    const kinds = { graph, dataverse, bap, login, admin };
    const kind = kinds[service].kind(req);
    rt.counters.request(service, kind, service === "dataverse" ? dataverse.environmentOf(req) : undefined, req.headers["x-ms-throttle-priority"]);
    if (service === "admin") return admin.handle(req);
    const latency = rt.settings.latencyMs[service];
    if (service === "login") {
      const fault = rt.faults.decide("login", req.path);
      if (fault.kind === "timeout") return { hangMs: fault.hangMs };
      if (latency > 0) await sleep(latency);
      if (fault.kind !== "none") {
        rt.counters.fault("login");
        if (fault.kind === "malformed") return malformedAnswer();
        if (fault.kind === "500") return { status: 500, json: { error: "server_error", error_description: "AADSTS50000: There was an error issuing a token (injected fault)." } };
        return { status: fault.kind === "429" ? 429 : 503, headers: { "retry-after": String(fault.retryAfterSeconds) }, json: { error: "temporarily_unavailable", error_description: "AADSTS90033: A transient error has occurred. Please try again." } };
      }
      return login.handle(req);
    }
    const verified = await verifier.verify(req.headers.authorization);
    if ("reason" in verified) return unauthorized(service, verified.message, req);
    if (rt.settings.checkAudience) {
      const accepted = service === "graph" ? graph.acceptedAudiences() : service === "dataverse" ? dataverse.acceptedAudiences(req) : bap.acceptedAudiences();
      if (!audienceMatches(verified.audience, accepted)) {
        return unauthorized(service, `Access token validation failure. Invalid audience '${verified.audience.join(",")}'.`, req);
      }
    }
    req.caller = verified.caller;
    const fault = rt.faults.decide(service, req.path);
    if (fault.kind !== "none") {
      rt.counters.fault(service);
      if (fault.kind === "timeout") return { hangMs: fault.hangMs };
      if (latency > 0) await sleep(latency);
      return faultResponse(service, fault, req);
    }
    if (service === "dataverse") {
      const refused = dataverse.admit(req);
      if (refused) return refused;
      try {
        if (latency > 0) await sleep(latency);
        return dataverse.handle(req);
      } finally {
        dataverse.release(req);
      }
    }
    if (latency > 0) await sleep(latency);
    return service === "graph" ? graph.handle(req) : bap.handle(req);
  }

  function write(nodeRes: ServerResponse | Http2ServerResponse, service: ServiceKey, res: SimResponse): void {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers ?? {})) headers[k.toLowerCase()] = v;
    let payload: Buffer = Buffer.alloc(0);
    if (res.json !== undefined) {
      payload = Buffer.from(JSON.stringify(res.json), "utf8");
      headers["content-type"] ??= "application/json; charset=utf-8";
    } else if (res.text !== undefined) {
      payload = Buffer.from(res.text, "utf8");
      headers["content-type"] ??= "text/plain; charset=utf-8";
    }
    headers["content-length"] = String(payload.length);
    rt.counters.status(service, res.status);
    if (nodeRes.destroyed || nodeRes.socket?.destroyed) return;
    nodeRes.writeHead(res.status, headers);
    if (res.status === 204) nodeRes.end();
    else nodeRes.end(payload);
  }

  async function onRequest(nodeReq: IncomingMessage | Http2ServerRequest, nodeRes: ServerResponse | Http2ServerResponse): Promise<void> {
    const received = performance.now();
    const chunks: Buffer[] = [];
    for await (const chunk of nodeReq) chunks.push(chunk as Buffer);
    const url = new URL(nodeReq.url ?? "/", origin);
    // Tolerate "//" (a base URL with a trailing slash joined with "/api/..."), as Microsoft's front ends do.
    if (url.pathname.includes("//")) url.pathname = url.pathname.replace(/\/{2,}/g, "/");
    const routed = routeService(url.pathname);
    if (!routed) {
      write(nodeRes, "admin", { status: 404, json: { error: { code: "NotFound", message: `No simulated service at ${url.pathname}. Services: /graph, /dataverse, /bap, /login, /_admin.` } } });
      return;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(nodeReq.headers)) if (v !== undefined && !k.startsWith(":")) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
    const req: SimRequest = { method: (nodeReq.method ?? "GET").toUpperCase(), url, path: routed.path, headers, body: Buffer.concat(chunks) };
    let result: SimResponse | { hangMs: number };
    try {
      result = await pipeline(routed.service, req);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      result = { status: 500, json: { error: { code: "InternalServerError", message: `Simulated cloud error: ${message}` } } };
    }
    if ("hangMs" in result) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        // The connection reset under the request; under HTTP/2 only its stream (others share the connection).
        if ("stream" in nodeReq) nodeReq.stream.close(http2Constants.NGHTTP2_INTERNAL_ERROR);
        else nodeReq.socket.destroy();
      }, result.hangMs);
      timers.add(timer);
      return;
    }
    write(nodeRes, routed.service, result);
    rt.counters.served(routed.service, performance.now() - received);
  }

  server.on("request", (nodeReq: IncomingMessage | Http2ServerRequest, nodeRes: ServerResponse | Http2ServerResponse) => {
    onRequest(nodeReq, nodeRes).catch(() => nodeRes.destroy());
  });

  return {
    url: origin,
    port,
    get tenantId() {
      return rt.state.tenantId;
    },
    graphBaseUrl: urls.graph,
    bapBaseUrl: urls.bap,
    authorityHost: urls.authorityHost,
    dataverseUrl: (id) => `${urls.dataverse(id)}/`,
    state,
    runtime: rt,
    settings: () => rt.settings,
    updateSettings: (patch) => rt.updateSettings(patch),
    counters: () => rt.counters.snapshot(),
    resetCounters: () => rt.counters.reset(),
    reset(next?: TenantFixture | ParsedFixture) {
      if (next) fixture = prepareFixture(next);
      state.load(fixture);
      rt.resetLimits();
      rt.counters.reset();
    },
    expireDeltaTokens() {
      state.deltaEpoch += 1;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const [timer, resolve] of sleeps) {
        clearTimeout(timer);
        resolve();
      }
      sleeps.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
