import type { Container, FeedOptions, OperationInput, PartitionKey, PatchOperation, SqlParameter } from "@azure/cosmos";
import { AppError } from "../errors/app-error.js";
import { NETWORK_ERROR_CODES } from "../errors/network.js";
import { CONTAINERS } from "./containers.js";

/**
 * Small generic helpers every feature's repository builds on. They know Cosmos DB, not the domain:
 * callers validate what they read with their own schemas.
 */

/** A parameterised query: values always travel in `parameters`, never spliced into the text. */
export interface QuerySpec {
  query: string;
  parameters?: SqlParameter[];
}

/** A stored item: what was written plus the system properties the helpers rely on. */
export type Stored<T> = T & { readonly _etag: string; readonly _ts: number };

export interface Page<T> {
  items: T[];
  /** Opaque Cosmos continuation; null when there is nothing more. */
  continuationToken: string | null;
}

export interface PageRequest {
  /** Upper bound of items in the page (>= 1). */
  limit: number;
  continuationToken?: string | null;
  /**
   * Scopes the query to one logical partition. The local Cosmos-compatible server ignores it for
   * queries, so also filter on the partition key in the WHERE clause when the result depends on it.
   */
  partitionKey?: PartitionKey;
  /** Requests spent trying to fill the page before returning it short (default 5). */
  maxRoundTrips?: number;
}

/**
 * One page of a query, resumable with its continuation token.
 *
 * Cosmos may answer a request with fewer items than asked (or none) and still a continuation -
 * across partitions, or when a selective filter scans many documents. To keep pages useful this
 * fills the page with further requests, each asking only for the items still missing
 * (`maxItemCount = limit - collected`) and resuming from the previous request's continuation.
 * That is what makes stopping anywhere safe: every token returned by Cosmos points just past the
 * items it delivered, and no request can deliver more than the page has room for, so no item is
 * skipped or repeated between pages. (Asking for `limit` items on every request and cutting the
 * surplus would silently drop the cut items: no token points between them.)
 *
 * Consequences for callers:
 * - a page may still be short - even empty - with a non-null continuation (after `maxRoundTrips`
 *   requests); only a null continuation means the end;
 * - when the last page is exactly full, Cosmos may still return a continuation, and the next page
 *   comes back empty with null;
 * - tokens are only valid for the same query text, parameters and partition key; a token Cosmos
 *   rejects becomes a `validation` error on `cursor`.
 *
 * `enableQueryControl` is set so that continuation tokens also work for queries the SDK runs
 * through its own pipeline (cross-partition ORDER BY); GROUP BY, DISTINCT and aggregates cannot
 * be paged with tokens at all - use `queryAll` for those.
 */
export async function queryPage<T>(container: Container, spec: QuerySpec, request: PageRequest): Promise<Page<T>> {
  const { limit } = request;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  const maxRoundTrips = request.maxRoundTrips ?? 5;
  const items: T[] = [];
  let token: string | undefined = request.continuationToken ?? undefined;
  try {
    for (let trip = 0; trip < maxRoundTrips; trip++) {
      const options: FeedOptions = { maxItemCount: limit - items.length, enableQueryControl: true };
      if (token !== undefined) options.continuationToken = token;
      if (request.partitionKey !== undefined) options.partitionKey = request.partitionKey;
      const response = await container.items.query<T>(spec, options).fetchNext();
      // Never truncated: an oversized answer is returned whole, since cutting it would lose items.
      items.push(...response.resources);
      token = response.continuationToken || undefined;
      if (token === undefined || items.length >= limit) break;
    }
  } catch (err) {
    if (request.continuationToken && isRejectedContinuation(err)) {
      throw new AppError("validation", "The cursor is not valid for this query.", {
        errors: [{ path: "cursor", message: "Invalid or expired cursor." }],
        cause: err,
      });
    }
    throw mapCosmosError(err);
  }
  return { items, continuationToken: token ?? null };
}

/**
 * Every result of a query whose result set is known to be small. Throws (a bug, not a user error)
 * when more than `maxItems` come back, rather than silently truncating.
 */
export async function queryAll<T>(
  container: Container,
  spec: QuerySpec,
  options: { partitionKey?: PartitionKey; maxItems?: number } = {},
): Promise<T[]> {
  const maxItems = options.maxItems ?? 1000;
  const feedOptions: FeedOptions = { maxItemCount: Math.min(maxItems + 1, 1000) };
  if (options.partitionKey !== undefined) feedOptions.partitionKey = options.partitionKey;
  const items: T[] = [];
  try {
    const iterator = container.items.query<T>(spec, feedOptions);
    while (iterator.hasMoreResults()) {
      const { resources } = await iterator.fetchNext();
      items.push(...resources);
      if (items.length > maxItems) {
        throw new Error(`queryAll: more than ${maxItems} items for "${spec.query}"; page it with queryPage.`);
      }
    }
  } catch (err) {
    throw mapCosmosError(err);
  }
  return items;
}

/** Point read; undefined when the item does not exist. */
export async function readItem<T>(
  container: Container,
  id: string,
  partitionKey: PartitionKey,
): Promise<Stored<T> | undefined> {
  try {
    const { resource, statusCode } = await container.item(id, partitionKey).read<Stored<T>>();
    return statusCode === 404 ? undefined : resource;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw mapCosmosError(err);
  }
}

/** Creates an item; an existing id in the same partition -> AppError `conflict`. */
export async function createItem<T extends { id: string }>(container: Container, item: T): Promise<Stored<T>> {
  try {
    const { resource } = await container.items.create<T>(item);
    return required<T>(resource, "create", item.id);
  } catch (err) {
    throw mapCosmosError(err);
  }
}

/**
 * Replaces an item only if it still carries `etag`; a stale ETag -> AppError `preconditionFailed`,
 * a missing item -> `notFound`. The partition key value is read from the item itself.
 */
export async function replaceIfMatch<T extends { id: string }>(
  container: Container,
  item: T,
  etag: string,
): Promise<Stored<T>> {
  try {
    const partitionKey = await partitionKeyOf(container, item);
    const { resource } = await container
      .item(item.id, partitionKey)
      .replace<T>(item, { accessCondition: { type: "IfMatch", condition: etag } });
    return required<T>(resource, "replace", item.id);
  } catch (err) {
    throw mapCosmosError(err);
  }
}

export async function upsert<T extends { id: string }>(container: Container, item: T): Promise<Stored<T>> {
  try {
    const { resource } = await container.items.upsert<T>(item);
    return required<T>(resource, "upsert", item.id);
  } catch (err) {
    throw mapCosmosError(err);
  }
}

export interface PatchConditions {
  /** Cosmos SQL filter the stored item must match, e.g. "from c where c.available > 0". */
  condition?: string;
  /** ETag the stored item must still carry. */
  ifMatch?: string;
}

/**
 * Partial update, applied atomically on the server only when the condition and/or ETag hold:
 * otherwise AppError `preconditionFailed` (412) and nothing changes. A missing item -> `notFound`.
 * This is how counters are reserved without lost updates (e.g. `incr -1` where `available > 0`).
 */
export async function patchIf<T>(
  container: Container,
  id: string,
  partitionKey: PartitionKey,
  operations: PatchOperation[],
  conditions: PatchConditions = {},
): Promise<Stored<T>> {
  try {
    const body = conditions.condition ? { operations, condition: conditions.condition } : operations;
    const options = conditions.ifMatch ? { accessCondition: { type: "IfMatch", condition: conditions.ifMatch } } : {};
    const response = await container.item(id, partitionKey).patch<Record<string, unknown>>(body, options);
    return required<T>(response.resource as T | undefined, "patch", id);
  } catch (err) {
    throw mapCosmosError(err);
  }
}

/** Deletes an item (only if it carries `ifMatch`, when given). False when it did not exist. */
export async function deleteItem(
  container: Container,
  id: string,
  partitionKey: PartitionKey,
  options: { ifMatch?: string } = {},
): Promise<boolean> {
  try {
    await container
      .item(id, partitionKey)
      .delete(options.ifMatch ? { accessCondition: { type: "IfMatch", condition: options.ifMatch } } : {});
    return true;
  } catch (err) {
    if (statusOf(err) === 404) return false;
    throw mapCosmosError(err);
  }
}


/** What a transactional batch did: every operation, or none (the failing one's status, by index). */
export type BatchOutcome =
  | { ok: true; results: { resource: unknown; etag: string | undefined }[] }
  | { ok: false; index: number; statusCode: number };

/**
 * A transactional batch in one logical partition: every operation is applied, or none is. When one
 * fails (409 on a create, 412 on a condition or ETag, 404), the others are undone and answer 424;
 * the outcome names the failing operation and its status. A request that fails as a whole
 * (throttled past the SDK's retries, unreachable) is `unavailable`: the SDK rethrows it as a plain
 * Error without its status, and the operations, built by our code, are never malformed.
 */
export async function transact(container: Container, partitionKey: PartitionKey, operations: OperationInput[]): Promise<BatchOutcome> {
  let results;
  try {
    ({ result: results } = await container.items.batch(operations, partitionKey));
  } catch (err) {
    throw wholeRequestFailure(err, "batch");
  }
  if (!results || results.length !== operations.length) throw cosmosUnavailable("A Cosmos DB batch answered without a result per operation.");
  const index = results.findIndex((r) => r.statusCode >= 400 && r.statusCode !== 424);
  if (index >= 0) return { ok: false, index, statusCode: results[index]!.statusCode };
  if (results.some((r) => r.statusCode >= 400)) {
    throw cosmosUnavailable("A Cosmos DB batch failed without naming the operation that failed.");
  }
  return { ok: true, results: results.map((r) => ({ resource: r.resourceBody, etag: r.eTag })) };
}

/** Retry-After for outages that do not say how long to wait. */
const DEFAULT_OUTAGE_RETRY_SECONDS = 5;

/** A Cosmos answer that cannot be used: try again later. */
export function cosmosUnavailable(detail: string, cause?: unknown): AppError {
  return new AppError("unavailable", detail, { retryAfterSeconds: DEFAULT_OUTAGE_RETRY_SECONDS, ...(cause !== undefined && { cause }) });
}

/**
 * A batch or bulk request that failed as a whole (throttled past the SDK's retries, unreachable):
 * the SDK rethrows it as a plain Error without its status, and the operations, built by our code,
 * are never malformed - so what is not otherwise recognised is `unavailable`.
 */
export function wholeRequestFailure(err: unknown, kind: "batch" | "bulk request"): AppError {
  const mapped = mapCosmosError(err);
  return mapped instanceof AppError ? mapped : cosmosUnavailable(`A Cosmos DB ${kind} failed: ${err instanceof Error ? err.message : String(err)}`, err);
}

/**
 * Turns a Cosmos/SDK error into the app's taxonomy where the meaning is generic:
 * 429 / 503 / 408 / timeouts / unreachable -> `unavailable` (with retryAfterSeconds: Cosmos 429
 * carries `retryAfterInMs`, after the SDK's own throttling retries are spent), 409 -> `conflict`,
 * 412 -> `preconditionFailed`, 404 on an item -> `notFound`. Anything else (400 from a bad query,
 * 401/403 from a missing role assignment, ...) is a bug or a misconfiguration and is returned
 * unchanged. AppErrors pass through.
 */
export function mapCosmosError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  const code = codeOf(err);
  const status = typeof code === "number" ? code : undefined;
  if (status === 429) {
    const ms = numberProp(err, "retryAfterInMs") ?? numberProp(err, "retryAfterInMilliseconds");
    const retryAfterSeconds = ms !== undefined ? Math.max(1, Math.ceil(ms / 1000)) : DEFAULT_OUTAGE_RETRY_SECONDS;
    return new AppError("unavailable", "Cosmos DB is throttling requests (429).", { retryAfterSeconds, cause: err });
  }
  if (status === 503 || status === 408 || (typeof code === "string" && NETWORK_ERROR_CODES.has(code))) {
    return new AppError("unavailable", `Cosmos DB is unavailable (${String(code)}).`, {
      retryAfterSeconds: DEFAULT_OUTAGE_RETRY_SECONDS,
      cause: err,
    });
  }
  if (isUnreadableErrorResponse(err)) {
    return new AppError("unavailable", "Cosmos DB (or a gateway before it) answered with an error the SDK could not read.", {
      retryAfterSeconds: DEFAULT_OUTAGE_RETRY_SECONDS,
      cause: err,
    });
  }
  if (status === 409) return new AppError("conflict", "An item with this id already exists.", { cause: err });
  if (status === 412) {
    return new AppError("preconditionFailed", "The item changed since it was read (stale ETag or failed condition).", {
      cause: err,
    });
  }
  // 404 substatus 1003: the database or container itself is missing - a deployment problem, not "not found".
  if (status === 404 && numberProp(err, "substatus") !== 1003) {
    return new AppError("notFound", "The item was not found.", { cause: err });
  }
  return err;
}

/**
 * An error status with an empty body (a gateway's 502, a connection cut mid-answer): the SDK reads
 * `message` of the missing body and throws a TypeError, to which it has attached the response's
 * `diagnostics`. No status survives, but it is an answer that never came through: retry later.
 */
function isUnreadableErrorResponse(err: unknown): boolean {
  return err instanceof TypeError && typeof (err as { diagnostics?: unknown }).diagnostics === "object";
}

function codeOf(err: unknown): number | string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const { code, statusCode } = err as { code?: unknown; statusCode?: unknown };
  if (typeof code === "number" || typeof code === "string") return code;
  return typeof statusCode === "number" ? statusCode : undefined;
}

function statusOf(err: unknown): number | undefined {
  const code = codeOf(err);
  return typeof code === "number" ? code : undefined;
}

function numberProp(err: unknown, name: string): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const value = (err as Record<string, unknown>)[name];
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function isRejectedContinuation(err: unknown): boolean {
  if (statusOf(err) === 400) return true;
  return err instanceof Error && /continuation/i.test(err.message) && codeOf(err) === undefined;
}

function required<T>(resource: T | undefined, operation: string, id: string): Stored<T> {
  if (resource === undefined) throw new Error(`Cosmos returned no item for ${operation} of "${id}".`);
  return resource as Stored<T>;
}

const partitionKeyPaths = new WeakMap<Container, string>();

/** The item's partition key value, from the declared containers (or the container's definition). */
async function partitionKeyOf(container: Container, item: object): Promise<PartitionKey> {
  let path = partitionKeyPaths.get(container) ?? CONTAINERS.find((c) => c.name === container.id)?.partitionKeyPath;
  if (path === undefined) {
    const { resource } = await container.read();
    path = resource?.partitionKey?.paths?.[0];
    if (path === undefined) throw new Error(`Container "${container.id}" has no partition key path.`);
  }
  partitionKeyPaths.set(container, path);
  let value: unknown = item;
  for (const segment of path.split("/").slice(1)) {
    value = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[segment] : undefined;
  }
  if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
    throw new Error(`Item "${(item as { id?: unknown }).id as string}" has no value at partition key path ${path}.`);
  }
  return value;
}
