import { createHash } from "node:crypto";
import type { HttpResponseInit } from "@azure/functions";
import { z } from "zod";
import { AppError } from "../errors/app-error.js";

/** `?limit=1..200` (default 50) and `&cursor=` on every list. */
/** The 400's wording when a part of the request does not match its schema: one per part, on every route. */
export const PART_MISMATCH = {
  params: "The request's route parameters do not match their schema.",
  query: "The request's query parameters do not match their schema.",
  body: "The request's body does not match its schema.",
} as const;

/** A route's `{tenantId}` that is no tenant id at all: 400 as for any route parameter of the wrong kind (not 403 another tenant). */
export function invalidRouteTenantId(): AppError {
  return new AppError("validation", PART_MISMATCH.params, {
    errors: [{ path: "params.tenantId", message: "must be the tenant's id (Microsoft Entra directory id), a GUID" }],
  });
}

/**
 * A name an admin gives (a policy, a tenant), shown in portals, reports and the audit trail: one
 * line of text, written as it reads - no control characters or line separators, no text-direction
 * overrides, no lone UTF-16 surrogates (half a character).
 */
export function oneLineTextSchema(max: number) {
  return z
    .string()
    .trim()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]*$/u, "must be one line of text: no control characters or line separators (line breaks, tabs, NUL) or text-direction overrides")
    .regex(/^\P{Cs}*$/u, "must be text: it holds half a character (a lone UTF-16 surrogate)");
}

const LIMIT_MESSAGE = "must be a whole number from 1 to 200, given once";

export const listQuerySchema = z.object({
  // Decimal digits only (Number() would also take "0x10" and "1e2"); a repeated ?limit= reaches the
  // app joined with "," (as the Functions host passes query values): said so, not "NaN".
  limit: z
    .preprocess((v) => (typeof v === "string" && !/^\d{1,4}$/.test(v) ? Number.NaN : v), z.coerce.number({ error: LIMIT_MESSAGE }).int().min(1).max(200).default(50)),
  cursor: z.string().min(1).max(4096).optional(),
});
export type ListQuery = z.infer<typeof listQuerySchema>;

export function listResponseSchema<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

/**
 * Cursors are opaque to callers and bound to the tenant and the filter they were issued for:
 * a cursor replayed for another tenant or filter is a 400, never another tenant's page.
 */
export function encodeCursor(tenantId: string, filter: unknown, position: string): string {
  return Buffer.from(JSON.stringify({ b: binding(tenantId, filter, position), p: position })).toString("base64url");
}

export function decodeCursor(cursor: string | undefined, tenantId: string, filter: unknown): string | undefined {
  if (cursor === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    parsed = undefined;
  }
  const shape = z.object({ b: z.string(), p: z.string() }).safeParse(parsed);
  if (!shape.success || shape.data.b !== binding(tenantId, filter, shape.data.p)) {
    throw new AppError("validation", "The cursor is not valid for this list.", {
      errors: [{ path: "cursor", message: "not a cursor issued for this tenant and filter" }],
    });
  }
  return shape.data.p;
}

/** The structured position a cursor carries (JSON, as `schema` says); anything else in it is a 400, never a 500. */
export function cursorPosition<T extends z.ZodType>(raw: string, schema: T): z.output<T> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = undefined;
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new AppError("validation", "The cursor is not valid for this list.", { errors: [{ path: "cursor", message: "invalid" }] });
  return parsed.data;
}

/**
 * Binds a position to its tenant and filter, with a checksum over it: an edited or truncated cursor
 * no longer matches (a check against mistakes, not a secret: whoever crafts one gets the page of
 * their own tenant and filter, or the service's refusal of the position).
 */
function binding(tenantId: string, filter: unknown, position: string): string {
  return createHash("sha256").update(JSON.stringify([tenantId, filter ?? null, position])).digest("base64url").slice(0, 22);
}

export const outcomeSchema = z.enum(["succeeded", "failed", "skipped"]);
export const userResultSchema = z.object({
  userId: z.string(),
  outcome: outcomeSchema,
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type UserResult = z.infer<typeof userResultSchema>;
export const multiUserResultSchema = z.object({ results: z.array(userResultSchema) });

/** Calls about several users: 200 when every outcome succeeded or was skipped, 207 when any failed. */
export function multiUserResponse(results: UserResult[], extra: Record<string, unknown> = {}): HttpResponseInit {
  const status = results.some((r) => r.outcome === "failed") ? 207 : 200;
  return { status, jsonBody: { ...extra, results } };
}

/** The body of a 202: the work's id and its status, one of the statuses the work goes through (an enum in the OpenAPI document). */
export function acceptedSchemaOf<S extends z.ZodEnum>(status: S) {
  return z.object({ id: z.string(), status });
}

/** Accepted asynchronous work: 202 with `{id, status}` and a `Location` to poll. */
export function acceptedResponse(id: string, status: string, location: string): HttpResponseInit {
  return { status: 202, headers: { Location: location }, jsonBody: { id, status } };
}

/**
 * Updates of policies and settings require If-Match; its absence is a 428. ETags are quoted
 * entity-tags (`"…"`, as Cosmos DB writes them); the bare value is taken as the same tag.
 */
export function requireIfMatch(headers: { get(name: string): string | null }): string {
  const value = optionalIfMatch(headers);
  if (!value) {
    throw new AppError("preconditionRequired", "This resource is versioned: send the ETag you read in If-Match.", {
      errors: [{ path: "If-Match", message: "header is required" }],
    });
  }
  return value;
}

/** If-Match where it is optional (a PUT that creates or replaces): undefined without one. */
export function optionalIfMatch(headers: { get(name: string): string | null }): string | undefined {
  const value = headers.get("if-match")?.trim();
  if (!value) return undefined;
  return value === "*" || value.startsWith('"') || value.startsWith("W/") ? value : `"${value}"`;
}

/**
 * Whether an If-Match value lets an update of the resource at `etag` go ahead (RFC 9110 13.1.1):
 * `*` when the resource exists; otherwise any entity-tag of the list equal to it by strong
 * comparison (a weak tag `W/"…"` never matches).
 */
export function ifMatchAccepts(ifMatch: string, etag: string | undefined): boolean {
  if (etag === undefined) return false;
  if (ifMatch.trim() === "*") return true;
  for (const [, weak, tag] of ifMatch.matchAll(/(W\/)?("[^"]*")/g)) {
    if (!weak && tag === etag) return true;
  }
  return false;
}

/**
 * A write under `If-Match: *` ("whatever the current version is"): when another writer changed the
 * resource between this request's read and its write (a 412 from the store), the write is made
 * again on top of that version - the caller asked for no particular one. Other If-Match values, and
 * other errors, are the caller's as they come.
 */
export async function writeMatchingAny<T>(ifMatch: string, write: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      const lostRace = err instanceof AppError && err.kind === "preconditionFailed";
      if (!lostRace || ifMatch.trim() !== "*") throw err;
      // `*` is never stale: still losing after every attempt is a busy resource, not a 412.
      if (attempt >= attempts) throw new AppError("unavailable", "Other requests keep changing this resource; try again.", { retryAfterSeconds: 1, cause: err });
    }
  }
}

/** Entra object ids only: a UPN where an id belongs is a 400 (history must survive renames). */
export const objectIdSchema = z.guid({
  error: (issue) =>
    issue.input === undefined
      ? "is required: an Entra object id (GUID)"
      : typeof issue.input === "string" && issue.input.includes("@")
        ? "must be an Entra object id (GUID), not a user principal name"
        : "must be an Entra object id (GUID)",
});
export const tenantIdSchema = z.guid({ message: "must be an Entra tenant id (GUID)" });
