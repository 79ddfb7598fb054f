import type { HttpResponseInit } from "@azure/functions";
import { API_ENDPOINTS } from "../api-catalog.js";
import { AppError } from "../errors/app-error.js";
import { toProblemResponse } from "../http/problem.js";

/**
 * The answer to a request no endpoint takes (the catch-all route, which the host tries last): a
 * problem+json 405 with `Allow` when the path is an endpoint's but the method is not, else a 404
 * pointing at the OpenAPI document - instead of the host's empty 404.
 */
export function unmatchedRoute(method: string, path: string): HttpResponseInit {
  const segments = path.split("/").filter(Boolean);
  const allowed = [...new Set(API_ENDPOINTS.filter((e) => routeMatches(e.route, segments)).map((e) => e.method))];
  if (allowed.length && !allowed.includes(method.toUpperCase() as (typeof allowed)[number])) {
    const res = toProblemResponse(new AppError("methodNotAllowed", `/api/${path} does not take ${method.toUpperCase()}; it takes ${allowed.join(", ")}.`, { extensions: { allowed } }));
    return { ...res, headers: { ...(res.headers as Record<string, string>), Allow: allowed.join(", ") } };
  }
  return toProblemResponse(new AppError("notFound", `No endpoint answers ${method.toUpperCase()} /api/${path}; the API's routes are in /api/openapi.json.`, { code: "route-not-found" }));
}

/** A route template (`tenants/{tenantId}/…`) against a path's segments: literals case-insensitive, `{name}` any one segment. */
function routeMatches(template: string, segments: readonly string[]): boolean {
  const parts = template.split("/").filter(Boolean);
  return parts.length === segments.length && parts.every((p, i) => /^\{[^}]+\}$/.test(p) || p.toLowerCase() === segments[i]?.toLowerCase());
}
