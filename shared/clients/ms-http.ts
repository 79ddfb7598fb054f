import type { IncomingHttpHeaders } from "node:http";
import type { TokenCredential } from "@azure/identity";
import { AppError } from "../errors/app-error.js";
import { reusedToken, TokenRefusedError } from "./credentials.js";
import { httpSend } from "./http-transport.js";
import type { RetryBudget } from "./graph.js";

/**
 * A small fetch wrapper for the Microsoft APIs that have no official Node client here (Dataverse
 * Web API, Power Platform admin API): a bearer token from the tenant's credential, and the
 * throttling contract of both services - 429 (and 503/504) with `Retry-After` are waited out
 * within a retry budget, and never past the caller's deadline. Past either, the failure is an
 * AppError `unavailable` carrying the Retry-After, so a queue job re-enqueues itself with that delay.
 */
export interface MsHttpOptions {
  credential: TokenCredential;
  scope: string;
  budget: RetryBudget;
  /** For messages: "Dataverse", "the Power Platform admin API". */
  service: string;
  /** Epoch ms after which no wait starts (a job's chunk deadline). */
  deadline?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Observes each attempt (metrics, tests). */
  onAttempt?: (info: { url: string; status: number; ms: number }) => void;
}

const RETRYABLE = new Set([429, 503, 504]);
export const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Seconds to wait from a Retry-After header (seconds or an HTTP date); the fallback without one. */
export function retryAfterFromHeader(value: string | null | undefined, fallback: number): number {
  if (!value) return fallback;
  const n = Number(value);
  if (Number.isFinite(n) && n >= 0) return Math.max(1, Math.ceil(n));
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(1, Math.ceil((at - Date.now()) / 1000)) : fallback;
}

/** What a caller reads of an answer (the body is read once, whole: these APIs answer JSON or multipart text). */
export interface MsResponse {
  ok: boolean;
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
  json(): Promise<unknown>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export interface MsRequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

async function send(url: string, init: MsRequestInit): Promise<MsResponse> {
  const raw = await httpSend(url, init);
  return toResponse(raw.status, raw.headers, raw.body);
}

function toResponse(status: number, headers: IncomingHttpHeaders, body: Buffer): MsResponse {
  const text = () => body.toString("utf8");
  return {
    ok: status >= 200 && status < 300,
    status,
    headers: {
      get(name: string) {
        const v = headers[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
      },
    },
    text: () => Promise.resolve(text()),
    json: () => {
      try {
        return Promise.resolve(JSON.parse(text()) as unknown);
      } catch (err) {
        // Not JSON where the contract says JSON: Microsoft's failure (502), not ours.
        return Promise.reject(new AppError("upstream", `Microsoft answered ${status} with a body that is not JSON.`, { cause: err, extensions: { upstreamStatus: status } }));
      }
    },
    arrayBuffer: () => Promise.resolve(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer),
  };
}

export async function msFetch(url: string, init: MsRequestInit, opts: MsHttpOptions): Promise<MsResponse> {
  const sleep = opts.sleep ?? realSleep;
  for (let attempt = 1; ; attempt++) {
    const token = await reusedToken(opts.credential, opts.scope).catch((err: unknown) => {
      if (err instanceof TokenRefusedError) throw err.toAppError();
      if (err instanceof AppError) throw err;
      // The authority unreachable or failing: an outage of the service for this call, retried later.
      throw new AppError("unavailable", `No token for ${opts.service}: ${err instanceof Error ? err.message : String(err)}`, { retryAfterSeconds: 5, cause: err });
    });
    if (!token) throw new AppError("unavailable", `No token for ${opts.service}.`, { retryAfterSeconds: 5 });
    const started = Date.now();
    let response: MsResponse;
    try {
      response = await send(url, { ...init, headers: { ...init.headers, Authorization: `Bearer ${token.token}` } });
    } catch (err) {
      opts.onAttempt?.({ url, status: 0, ms: Date.now() - started });
      const wait = Math.min(2 ** (attempt - 1), 30);
      if (attempt <= opts.budget.maxRetries && fitsDeadline(wait, opts.deadline)) {
        await sleep(wait * 1000);
        continue;
      }
      throw new AppError("unavailable", `${opts.service} could not be reached.`, { retryAfterSeconds: 5, cause: err });
    }
    opts.onAttempt?.({ url, status: response.status, ms: Date.now() - started });
    if (!RETRYABLE.has(response.status)) return response;
    const wait = retryAfterFromHeader(response.headers.get("retry-after"), 2 ** (attempt - 1));
    if (attempt <= opts.budget.maxRetries && wait <= opts.budget.maxDelaySeconds && fitsDeadline(wait, opts.deadline)) {
      await sleep(wait * 1000);
      continue;
    }
    throw new AppError("unavailable", `${opts.service} is throttling or unavailable (${response.status}); try again later.`, {
      retryAfterSeconds: wait,
      extensions: { upstreamStatus: response.status },
    });
  }
}

function fitsDeadline(waitSeconds: number, deadline: number | undefined): boolean {
  return deadline === undefined || Date.now() + waitSeconds * 1000 < deadline;
}

/** The `{error: {code, message}}` body both services use; tolerant of other shapes. */
export async function readError(response: MsResponse): Promise<{ code: string; message: string }> {
  const text = await response.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    return { code: typeof body.error?.code === "string" ? body.error.code : "", message: typeof body.error?.message === "string" ? body.error.message : text.slice(0, 500) };
  } catch {
    return { code: "", message: text.slice(0, 500) };
  }
}
