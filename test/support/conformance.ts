import { appendFileSync } from "node:fs";
import { z } from "zod";
import { API_ENDPOINTS } from "../../shared/api-catalog.js";
import type { EndpointDefinition } from "../../shared/http/endpoint.js";
import { PROBLEM_CONTENT_TYPE } from "../../shared/http/problem.js";
import { PROBLEM_TYPE_BASE } from "../../shared/errors/app-error.js";
import { buildOpenApiDocument, commonErrorStatuses, problemSchema } from "../../shared/platform/openapi.js";
import { compareFunctionNames, matchRoute, parseRouteTemplate, splitPath } from "../../local/host/routes.js";

/**
 * P6 as a contract: every answer the integration tests receive from the running app is one the
 * OpenAPI document describes - a status the endpoint lists (its own or the problem statuses every
 * endpoint of its kind may answer), a body of the documented schema and content type, and every
 * error a problem+json whose `status` is the HTTP status, valid against the Problem schema the
 * document publishes (what a client validates with). An ETag, Location or Retry-After on a success
 * is one its response declares. Requests no endpoint takes get the catch-all's 400 / 404 / 405 problem.
 */
const ROUTES = [...API_ENDPOINTS]
  .sort((a, b) => compareFunctionNames(a.name, b.name))
  .map((def) => ({ def, template: parseRouteTemplate(def.route) }));

const PUBLISHED = buildOpenApiDocument(API_ENDPOINTS, { title: "conformance", version: "0" });

/** The Problem schema as `/api/openapi.json` publishes it, read back as a validator. */
const PUBLISHED_PROBLEM = z.fromJSONSchema(PUBLISHED.components.schemas.Problem);

/**
 * A success body's schema as the document publishes it (closed objects: a member the document does
 * not list is drift a client validating with it would refuse), read back as a validator.
 */
const publishedBodies = new Map<string, z.ZodType | undefined>();
function publishedBody(def: EndpointDefinition, status: number, contentType: string): z.ZodType | undefined {
  const key = `${def.name} ${status} ${contentType}`;
  if (!publishedBodies.has(key)) {
    const paths = PUBLISHED.paths as Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> }>>;
    const path = `/api/${def.route.replace(/\{(\w+):[^}]+\}/g, "{$1}")}`; // as published: no route constraints
    const schema = paths[path]?.[def.method.toLowerCase()]?.responses?.[String(status)]?.content?.[contentType]?.schema;
    if (!paths[path]) throw new Error(`conformance: ${def.name}'s path ${path} is not in the published document`);
    publishedBodies.set(key, schema ? z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]) : undefined);
  }
  return publishedBodies.get(key);
}

/** Response headers whose presence on a success the OpenAPI description must declare. */
const DECLARED_HEADERS = ["ETag", "Location", "Retry-After"];

export function endpointFor(method: string, pathname: string): EndpointDefinition | undefined {
  const segments = splitPath(pathname.replace(/^\/api(?=\/|$)/, ""));
  return ROUTES.find((r) => r.def.method === method && matchRoute(r.template, segments))?.def;
}

export function conformanceViolation(
  method: string,
  url: string,
  status: number,
  contentType: string | null,
  text: string,
  headers?: { get(name: string): string | null },
): string | undefined {
  const { pathname } = new URL(url);
  const def = endpointFor(method.toUpperCase(), pathname);
  const isProblem = contentType?.split(";")[0]?.trim().toLowerCase() === PROBLEM_CONTENT_TYPE;
  if (!def) {
    if (![400, 404, 405].includes(status)) return `no endpoint takes ${method} ${pathname}, yet it answered ${status}`;
    return status >= 400 ? problemViolation(status, isProblem, text) : undefined;
  }
  const spec = def.responses[status];
  if (status >= 400 && !spec?.schema) {
    if (!spec && !commonErrorStatuses(def).includes(status)) return `${def.name} answered ${status}, which its OpenAPI description does not list`;
    return problemViolation(status, isProblem, text);
  }
  if (!spec) return `${def.name} answered ${status}, which its OpenAPI description does not list`;
  const declared = new Set(Object.keys(spec.headers ?? {}).map((h) => h.toLowerCase()));
  const undeclared = DECLARED_HEADERS.filter((h) => headers?.get(h) != null && !declared.has(h.toLowerCase()));
  if (undeclared.length > 0) return `${def.name} ${status}: header ${undeclared.join(", ")}, which its OpenAPI description does not declare`;
  const representations = [{ contentType: spec.contentType ?? (spec.schema ? "application/json" : undefined), schema: spec.schema }, ...(spec.alsoAs ?? [])];
  if (representations[0]!.contentType === undefined) return undefined; // documented without a body
  const type = contentType?.split(";")[0]?.trim().toLowerCase();
  const representation = representations.find((r) => r.contentType === type);
  if (!representation) return `${def.name} ${status}: content type ${contentType ?? "(none)"}, documented ${representations.map((r) => r.contentType).join(" or ")}`;
  if (!representation.schema) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `${def.name} ${status}: the body is not JSON`;
  }
  const parsed = representation.schema.safeParse(body);
  const issues = (e: z.ZodError) => e.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
  if (!parsed.success) return `${def.name} ${status}: the body does not match its documented schema (${issues(parsed.error)})`;
  const published = publishedBody(def, status, representation.contentType!)?.safeParse(body);
  if (published && !published.success) return `${def.name} ${status}: the body does not match the schema /api/openapi.json publishes (${issues(published.error)})`;
  return undefined;
}

function problemViolation(status: number, isProblem: boolean, text: string): string | undefined {
  if (!isProblem) return `${status} is not ${PROBLEM_CONTENT_TYPE}`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `${status}: the problem is not JSON`;
  }
  const published = PUBLISHED_PROBLEM.safeParse(body);
  if (!published.success) return `${status}: not a problem document (${published.error.issues[0]?.path.join(".")}: ${published.error.issues[0]?.message})`;
  // The published schema is generated from problemSchema: one accepting what the other refuses is drift.
  const parsed = problemSchema.safeParse(body);
  if (!parsed.success) return `${status}: the published Problem schema accepts what problemSchema refuses (${parsed.error.issues[0]?.message})`;
  if (parsed.data.status !== status) return `${status}: the problem says status ${parsed.data.status}`;
  if (!parsed.data.type.startsWith(PROBLEM_TYPE_BASE)) return `${status}: problem type ${parsed.data.type} is not one of the documented URIs`;
  return undefined;
}

/** Checks one answer; throws (failing the test that made the request) when it is not as documented. */
export async function assertConforms(method: string, url: string, response: Response): Promise<void> {
  if (!["GET", "POST", "PUT", "PATCH", "DELETE"].includes(method.toUpperCase())) return;
  const text = await response.clone().text();
  const violation = conformanceViolation(method, url, response.status, response.headers.get("content-type"), text, response.headers);
  if (!violation) return;
  const log = process.env.CONFORMANCE_LOG;
  if (log) {
    appendFileSync(log, `${JSON.stringify({ method, url, status: response.status, violation, body: text.slice(0, 300) })}\n`);
    return;
  }
  throw new Error(`API answer not as documented (P6): ${method} ${url}: ${violation}`);
}
