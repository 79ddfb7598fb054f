import type { Client } from "@microsoft/microsoft-graph-client";
import { z } from "zod";
import { AppError } from "../errors/app-error.js";
import { INTERACTIVE_BUDGET, mapGraphError, retryAfterSeconds, type RetryBudget } from "./graph.js";

/**
 * Microsoft Graph JSON batching (`POST /$batch`, at most 20 requests) with the per-item retry the
 * official client does not do: items answered 429 / 503 / 504 are sent again, in a smaller batch,
 * after the longest `Retry-After` among them, within the caller's retry budget. An item still
 * throttled past the budget comes back with `retryAfterSeconds` set, so the caller can answer 503
 * with Retry-After and record it as not done.
 *
 * The body is built as the documented wire format (relative URLs such as `/users/{id}`) rather
 * than with the client's BatchRequestContent, which needs fetch `Request` objects and keeps the
 * version segment in each URL; the request still goes through the client (auth, top-level retry).
 */
export const MAX_BATCH_ITEMS = 20;

export interface BatchRequestItem {
  id: string;
  method: "GET" | "POST" | "PATCH" | "DELETE";
  /** Relative to the version root, e.g. `/users/{id}/assignLicense`. */
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface BatchItemResult {
  id: string;
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: unknown;
  /** Set when the item was still throttled (or unavailable) after the retry budget: wait this long. */
  retryAfterSeconds?: number;
  /** How many times the item was sent. */
  attempts: number;
  /** A try answered 504 (a gateway timeout: Graph may have done it), whatever the last answer says. */
  uncertain?: true;
}

const batchResponseSchema = z.object({
  responses: z.array(
    z.object({
      id: z.string(),
      status: z.number().int(),
      headers: z.record(z.string(), z.string()).nullish(),
      body: z.unknown().optional(),
    }),
  ),
});

/** The error member of a Graph error body (`{ error: { code, message } }`). */
export const graphErrorBodySchema = z.object({
  error: z.object({ code: z.string().nullish(), message: z.string().nullish() }),
});

export function graphErrorOf(body: unknown): { code: string; message: string } {
  const parsed = graphErrorBodySchema.safeParse(body);
  return parsed.success
    ? { code: parsed.data.error.code ?? "", message: parsed.data.error.message ?? "" }
    : { code: "", message: typeof body === "string" ? body : "" };
}

const RETRYABLE = new Set([429, 503, 504]);

export interface BatchOptions {
  budget?: RetryBudget;
  /** Injectable for unit tests. */
  sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Sends up to 20 requests as one `$batch`, retrying throttled items; one result per item id. */
export async function sendBatch(client: Client, items: readonly BatchRequestItem[], options: BatchOptions = {}): Promise<Map<string, BatchItemResult>> {
  if (items.length > MAX_BATCH_ITEMS) throw new RangeError(`A Graph $batch holds at most ${MAX_BATCH_ITEMS} requests, got ${items.length}.`);
  const budget = options.budget ?? INTERACTIVE_BUDGET;
  const sleep = options.sleep ?? realSleep;
  const results = new Map<string, BatchItemResult>();
  const timedOut = new Set<string>();
  let pending = [...items];
  for (let attempt = 1; pending.length > 0; attempt++) {
    const responses = await postBatch(client, pending);
    const retry: BatchRequestItem[] = [];
    let wait = 0;
    for (const item of pending) {
      const response = responses.get(item.id);
      const headers = lowerCaseKeys(response?.headers ?? {});
      const status = response?.status ?? 502;
      if (status === 504) timedOut.add(item.id);
      const result: BatchItemResult = { id: item.id, status, headers, body: response?.body, attempts: attempt, ...(timedOut.has(item.id) ? { uncertain: true as const } : {}) };
      if (RETRYABLE.has(status)) {
        // Without Retry-After: exponential back-off (1, 2, 4 ... s), as Graph's guidance says.
        const after = retryAfterSeconds(headers, 2 ** (attempt - 1));
        if (attempt <= budget.maxRetries && after <= budget.maxDelaySeconds) {
          retry.push(item);
          wait = Math.max(wait, after);
          continue;
        }
        result.retryAfterSeconds = after;
      }
      results.set(item.id, result);
    }
    pending = retry;
    if (pending.length > 0) await sleep(wait * 1000);
  }
  return results;
}

async function postBatch(client: Client, items: readonly BatchRequestItem[]): Promise<Map<string, z.infer<typeof batchResponseSchema>["responses"][number]>> {
  const requests = items.map((item) => {
    const headers = { ...(item.body !== undefined ? { "Content-Type": "application/json" } : {}), ...item.headers };
    return {
      id: item.id,
      method: item.method,
      url: item.url,
      ...(Object.keys(headers).length ? { headers } : {}),
      ...(item.body !== undefined ? { body: item.body } : {}),
    };
  });
  let raw: unknown;
  try {
    raw = await client.api("/$batch").post({ requests });
  } catch (err) {
    throw mapGraphError(err, "Microsoft Graph ($batch)");
  }
  const parsed = batchResponseSchema.safeParse(raw);
  if (!parsed.success) throw new AppError("upstream", "Microsoft Graph answered a $batch with an unexpected body.", { cause: parsed.error });
  return new Map(parsed.data.responses.map((r) => [r.id, r]));
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}
