import {
  AuthenticationHandler, Client, GraphError, type Context, type Middleware,
} from "@microsoft/microsoft-graph-client";
import { setTimeout as sleep } from "node:timers/promises";
import type { TokenCredential } from "@azure/identity";
import { AppError } from "../errors/app-error.js";
import { isNetworkError } from "../errors/network.js";
import { reusedTokenProvider, TOKEN_REFUSED, TokenRefusedError } from "./credentials.js";
import { httpSend, type RawResponse } from "./http-transport.js";

/**
 * How long a caller may wait on Graph throttling. Interactive (HTTP) calls stay well inside the
 * 230 s request limit; background work (sync, queue handlers) may wait longer. Past the budget the
 * 429/503 surfaces and becomes a 503 with Retry-After (or a delayed re-enqueue for queue work).
 */
export interface RetryBudget {
  maxRetries: number;
  /** A single Retry-After longer than this is not waited for. */
  maxDelaySeconds: number;
}

export const INTERACTIVE_BUDGET: RetryBudget = { maxRetries: 3, maxDelaySeconds: 10 };
export const BACKGROUND_BUDGET: RetryBudget = { maxRetries: 8, maxDelaySeconds: 120 };
/**
 * Background work that acts on a decision which must stay recent (a claim acts on its policy and
 * the feature switch, A10: a change takes effect within 30 s): a few short waits only (at most
 * 2 x 4 s per request). A longer Retry-After surfaces; the queue retries the message after it, and
 * the retry decides again before calling Graph.
 */
export const SHORT_BACKGROUND_BUDGET: RetryBudget = { maxRetries: 2, maxDelaySeconds: 4 };

/** Who waits on Graph: an HTTP caller, background work, or background work on a recent decision (`SHORT_BACKGROUND_BUDGET`). */
export type GraphMode = "interactive" | "background" | "short-background";

export function budgetOf(mode: GraphMode): RetryBudget {
  return mode === "background" ? BACKGROUND_BUDGET : mode === "short-background" ? SHORT_BACKGROUND_BUDGET : INTERACTIVE_BUDGET;
}

export interface GraphClientOptions {
  /** https://graph.microsoft.com, or the simulated cloud's /graph base locally. */
  baseUrl: string;
  credential: TokenCredential;
  budget?: RetryBudget;
  /** Background work: send `x-ms-throttle-priority: low` (the tenant's quota is shared with every app). */
  background?: boolean;
}

const GRAPH_SCOPE = "https://graph.microsoft.com/.default";

/** Adds the low throttle priority header to every request of a background client. */
class ThrottlePriorityHandler implements Middleware {
  private next: Middleware | undefined;
  async execute(context: Context): Promise<void> {
    const headers = new Headers(context.options?.headers);
    headers.set("x-ms-throttle-priority", "low");
    context.options = { ...context.options, headers };
    await this.next?.execute(context);
  }
  setNext(next: Middleware): void {
    this.next = next;
  }
}

const RETRY_STATUSES = new Set([429, 503, 504]);

/**
 * Retries 429/503/504 honouring Retry-After (exponential back-off without it), but only while the
 * wait stays inside the budget: the client's own RetryHandler waits for any Retry-After (up to
 * 180 s) and its shouldRetry callback never sees the server's delay, so it cannot bound the wait.
 */
class BudgetedRetryHandler implements Middleware {
  private next: Middleware | undefined;
  constructor(private readonly budget: RetryBudget) {}

  async execute(context: Context): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      await this.next?.execute(context);
      const res = context.response;
      if (!res || !RETRY_STATUSES.has(res.status) || attempt >= this.budget.maxRetries) return;
      const delay = retryAfterSeconds(res.headers, Math.min(2 ** attempt, this.budget.maxDelaySeconds));
      if (delay > this.budget.maxDelaySeconds) return;
      await res.body?.cancel();
      await sleep(delay * 1000);
    }
  }

  setNext(next: Middleware): void {
    this.next = next;
  }
}

/**
 * The chain's last middleware, in place of the package's HTTPMessageHandler (fetch): sends the
 * request through the process's keep-alive pool (http-transport.ts) and hands the client a
 * Response whose body is already read. The client reads status, headers (a real Headers), and the
 * body as JSON, text or bytes; Graph requests carry JSON or nothing.
 */
class NodeHttpMessageHandler implements Middleware {
  async execute(context: Context): Promise<void> {
    const url = context.request as unknown; // RequestInfo: a DOM type, unresolved without lib dom
    if (typeof url !== "string") throw new TypeError("The Graph client sends requests by URL.");
    const options = context.options ?? {};
    const headers: Record<string, string> = {};
    new Headers(options.headers).forEach((value, name) => (headers[name] = value));
    const body = options.body;
    if (body !== undefined && body !== null && typeof body !== "string" && !(body instanceof Uint8Array)) {
      throw new TypeError("Graph requests carry a JSON string or bytes.");
    }
    const raw = await httpSend(url, { method: options.method ?? "GET", headers, ...(body ? { body } : {}) });
    context.response = bufferedResponse(url, raw);
  }
}

function bufferedResponse(url: string, raw: RawResponse): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw.headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  const text = () => raw.body.toString("utf8");
  const response = {
    ok: raw.status >= 200 && raw.status < 300,
    status: raw.status,
    statusText: "",
    url,
    redirected: false,
    type: "basic",
    headers,
    body: null,
    bodyUsed: false,
    text: () => Promise.resolve(text()),
    json: () => Promise.resolve(JSON.parse(text()) as unknown),
    arrayBuffer: () => Promise.resolve(raw.body.buffer.slice(raw.body.byteOffset, raw.body.byteOffset + raw.body.byteLength)),
    blob: () => Promise.resolve(new Blob([raw.body])),
    clone: () => bufferedResponse(url, raw),
  };
  return response as unknown as Response;
}

/**
 * The official Graph client, with retries bounded by a budget. The same code talks to
 * Microsoft Graph and to the local simulated cloud; only `baseUrl` differs (a non-Graph host is
 * listed in `customHosts` so that @odata.nextLink stays absolute and carries the token).
 */
export function createGraphClient(opts: GraphClientOptions): Client {
  const budget = opts.budget ?? INTERACTIVE_BUDGET;
  const auth = new AuthenticationHandler(reusedTokenProvider(opts.credential, GRAPH_SCOPE));
  const chain: Middleware[] = [auth, new BudgetedRetryHandler(budget)];
  if (opts.background) chain.push(new ThrottlePriorityHandler());
  chain.push(new NodeHttpMessageHandler());
  const host = new URL(opts.baseUrl).hostname;
  return Client.initWithMiddleware({
    baseUrl: opts.baseUrl.replace(/\/+$/, ""),
    middleware: chain,
    ...(host === "graph.microsoft.com" ? {} : { customHosts: new Set([host]) }),
  });
}

/** Retry-After in seconds (delta-seconds or an HTTP date) from a response, a Graph error or a $batch item's headers. */
export function retryAfterSeconds(headers: Headers | Record<string, string> | undefined, fallback = 5): number {
  const raw = headers instanceof Headers ? headers.get("retry-after") : headers?.["Retry-After"] ?? headers?.["retry-after"];
  if (raw === undefined || raw === null || raw.trim() === "") return fallback;
  const seconds = /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : (Date.parse(raw) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.max(1, Math.ceil(seconds)) : fallback;
}

/**
 * Graph failures that are not specific to a use-case: throttling and outages past the budget ->
 * `unavailable` with Retry-After; unknown object -> `notFound`; anything else -> `upstream` (502)
 * carrying Graph's code and message. Use-cases map the 400s they understand (e.g. no licenses
 * left) to business-rule errors before falling back to this.
 */
export function mapGraphError(err: unknown, what = "Microsoft Graph"): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof TokenRefusedError) return err.toAppError();
  // The Graph client wraps what its token provider throws, keeping the error's name as `code`.
  if (err instanceof GraphError && err.code === "TokenRefused") return new AppError("upstream", err.message, { code: TOKEN_REFUSED, cause: err });
  if (err instanceof GraphError) {
    const status = err.statusCode;
    if (status === -1 || status === 0) {
      // No HTTP answer: the request, or the token for it, could not be had (network, the authority unreachable).
      return new AppError("unavailable", `${what} could not be reached (${err.message}); try again later.`, { retryAfterSeconds: 5, cause: err });
    }
    if (status === 429 || status === 503 || status === 504) {
      return new AppError("unavailable", `${what} is throttling or unavailable (${status}); try again later.`, {
        retryAfterSeconds: retryAfterSeconds(err.headers),
        extensions: { upstreamStatus: status },
        cause: err,
      });
    }
    if (status === 404) return new AppError("notFound", `${what}: the object was not found.`, { cause: err });
    return new AppError("upstream", `${what} answered ${status}: ${err.message}`, {
      extensions: { upstreamStatus: status, upstreamCode: err.code },
      cause: err,
    });
  }
  if (isNetworkError(err) || (err instanceof Error && /fetch failed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|socket/i.test(`${err.message} ${String(err.cause)}`))) {
    return new AppError("unavailable", `${what} could not be reached.`, { retryAfterSeconds: 5, cause: err });
  }
  return new AppError("upstream", `${what} call failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
