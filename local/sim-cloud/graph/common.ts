import { randomUUID } from "node:crypto";
import { SimError } from "../http/errors.js";
import type { SimRequest, SimResponse } from "../http/types.js";
import { FilterSyntaxError, filterProperties, parseFilter, type FilterNode } from "../odata/filter.js";
import type { SimSettings } from "../settings.js";
import type { TenantState } from "../state/tenant-state.js";

export interface GraphContext {
  state: TenantState;
  settings: SimSettings;
  /** e.g. https://127.0.0.1:8443/graph/v1.0 */
  base: string;
  now: () => number;
}

/** Graph's error body: {error:{code,message,innerError:{date,request-id,client-request-id}}}. */
export function graphError(status: number, code: string, message: string, headers: Record<string, string> = {}, req?: SimRequest): SimResponse {
  const requestId = randomUUID();
  return {
    status,
    headers: { "request-id": requestId, "client-request-id": req?.headers["client-request-id"] ?? requestId, ...headers },
    json: {
      error: {
        code,
        message,
        innerError: {
          date: new Date().toISOString().replace(/\.\d+Z$/, ""),
          "request-id": requestId,
          "client-request-id": req?.headers["client-request-id"] ?? requestId,
        },
      },
    },
  };
}

export function graphJson(body: unknown, status = 200, headers: Record<string, string> = {}): SimResponse {
  return { status, json: body, headers: { "content-type": "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8", ...headers } };
}

export const resourceNotFound = (id: string) =>
  new SimError(404, "Request_ResourceNotFound", `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);

/** $top for collections: 1..max (Graph: 999), default `fallback`. */
export function parseTop(value: string | null, fallback: number, max = 999): number {
  if (value === null) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new SimError(400, "Request_UnsupportedQuery", `Invalid page size specified: '${value}'. Must be between 1 and ${max} inclusive.`);
  }
  return n;
}

/** $select: validated against the resource's properties (case-insensitive, answered in canonical case). */
export function parseSelect(value: string | null, known: readonly string[], typeName: string): string[] | null {
  if (value === null || value.trim() === "") return null;
  const byLower = new Map(known.map((k) => [k.toLowerCase(), k]));
  return value.split(",").map((raw) => {
    const name = raw.trim();
    const canonical = byLower.get(name.toLowerCase());
    if (!canonical) throw new SimError(400, "BadRequest", `Could not find a property named '${name}' on type 'microsoft.graph.${typeName}'.`);
    return canonical;
  });
}

/** $filter restricted to the properties Graph supports filtering on for the resource. */
export function parseGraphFilter(value: string | null, allowed: readonly string[], resource: string): FilterNode | null {
  if (value === null || value.trim() === "") return null;
  let node: FilterNode;
  try {
    node = parseFilter(value);
  } catch (err) {
    if (err instanceof FilterSyntaxError) throw new SimError(400, "BadRequest", err.message);
    throw err;
  }
  const ok = new Set(allowed.map((a) => a.toLowerCase()));
  for (const prop of filterProperties(node)) {
    if (!ok.has(prop.toLowerCase())) {
      throw new SimError(400, "Request_UnsupportedQuery", `Unsupported or invalid query filter clause specified for property '${prop}' of resource '${resource}'.`);
    }
  }
  return node;
}

export function contextUrl(ctx: GraphContext, entitySet: string, select: string[] | null, entity = false): string {
  const sel = select ? `(${select.join(",")})` : "";
  return `${ctx.base}/$metadata#${entitySet}${sel}${entity ? "/$entity" : ""}`;
}

/** Opaque continuation tokens (base64url JSON). A token that does not decode is unknown. */
export function encodeToken(data: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(data), "utf8").toString("base64url");
}

export function decodeToken(token: string): Record<string, unknown> | null {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as unknown;
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The query string of a nextLink: the original parameters with a new $skiptoken. */
export function withSkipToken(url: URL, token: string): string {
  const params = new URLSearchParams(url.search);
  params.delete("$skiptoken");
  params.set("$skiptoken", token);
  // Graph's links use %20 for spaces (a "+" would be re-encoded as a literal plus by some clients).
  return params.toString().replace(/\+/g, "%20").replace(/%24/g, "$").replace(/%2C/gi, ",");
}

export function findIndexAfterSeq<T extends { seq: number }>(items: readonly T[], seq: number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((items[mid]?.seq ?? 0) <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
