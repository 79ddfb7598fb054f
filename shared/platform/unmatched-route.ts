import type { HttpResponseInit } from "@azure/functions";
import { API_ENDPOINTS } from "../api-catalog.js";
import { AppError, type FieldError } from "../errors/app-error.js";
import { PART_MISMATCH } from "../http/conventions.js";
import { toProblemResponse } from "../http/problem.js";
import { isGuid } from "../ids.js";

/**
 * The answer to a request no endpoint takes (the catch-all function, tried last): 400 naming the
 * route parameter when the path is an endpoint's but a parameter is not of its kind (`{policyId:guid}`);
 * 405 with `Allow` when the path is an endpoint's but the method is not; else 404 pointing at the
 * OpenAPI document - instead of the host's empty 404.
 */
export function unmatchedRoute(method: string, path: string): HttpResponseInit {
  const verb = method.toUpperCase();
  // An empty segment inside the path (`tenants/{id}//products`) matches no route (the host did not
  // route it either): a 404, not a 405 naming the very method that was used.
  const segments = path.replace(/^\/+|\/+$/g, "").split("/");
  const matches = API_ENDPOINTS.flatMap((e) => {
    const failed = templateMatch(e.route, segments);
    return failed ? [{ method: e.method, failed }] : [];
  });
  // A path an endpoint takes as it is (`…/report`) is that endpoint's: a wrong method is a 405 with its methods.
  const exact = matches.filter((m) => m.failed.length === 0);
  const notOfItsKind = exact.length ? undefined : matches.find((m) => m.method === verb && m.failed.length > 0);
  if (notOfItsKind) {
    const errors = notOfItsKind.failed.map((p): FieldError => ({ path: `params.${p}`, message: "must be a GUID" }));
    return toProblemResponse(new AppError("validation", PART_MISMATCH.params, { errors }));
  }
  const allowed = [...new Set((exact.length ? exact : matches).map((m) => m.method))];
  if (allowed.length) {
    const res = toProblemResponse(new AppError("methodNotAllowed", `/api/${path} does not take ${verb}; it takes ${allowed.join(", ")}.`, { extensions: { allowed } }));
    return { ...res, headers: { ...(res.headers as Record<string, string>), Allow: allowed.join(", ") } };
  }
  return toProblemResponse(new AppError("notFound", `No endpoint answers ${verb} /api/${path}; the API's routes are in /api/openapi.json.`, { code: "route-not-found" }));
}

/**
 * A route template (`tenants/{tenantId}/…`) against a path's segments, literals case-insensitive:
 * undefined when it does not match, else the `:guid` parameters whose segment is not a GUID.
 */
function templateMatch(template: string, segments: readonly string[]): string[] | undefined {
  const parts = template.split("/").filter(Boolean);
  if (parts.length !== segments.length) return undefined;
  const failed: string[] = [];
  for (const [i, part] of parts.entries()) {
    const segment = segments[i] ?? "";
    const param = /^\{(\w+)(?::(\w+))?\??\}$/.exec(part);
    if (segment === "") return undefined; // no route parameter is empty
    if (!param) {
      if (part.toLowerCase() !== segment.toLowerCase()) return undefined;
    } else if (param[2] === "guid" && !isGuid(segment)) {
      failed.push(param[1] ?? part);
    }
  }
  return failed;
}

