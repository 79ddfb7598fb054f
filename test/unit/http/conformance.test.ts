import { describe, expect, it } from "vitest";
import { API_ENDPOINTS } from "../../../shared/api-catalog.js";
import { buildOpenApiDocument } from "../../../shared/platform/openapi.js";
import { conformanceViolation, endpointFor } from "../../support/conformance.js";

const T = "5f1c6e2a-7d3b-4c8e-9a41-2b6d0e8f3c17";
const url = (path: string) => `http://127.0.0.1:7071/api/tenants/${T}${path}`;
const problem = (status: number, code = "x") => JSON.stringify({ type: `https://license-control-plane.dev/problems/${code}`, title: "t", status, detail: "d" });
const PROBLEM = "application/problem+json";

describe("the integration tests' check that every answer is as the OpenAPI document says (P6)", () => {
  it("when a request names an endpoint, then the endpoint is found in the host's route order", () => {
    expect(endpointFor("GET", `/api/tenants/${T}/auto-claim-policies/report`)?.name).toBe("auto-claim-policies-report");
    expect(endpointFor("GET", `/api/tenants/${T}/auto-claim-policies/${T}`)?.name).toBe("auto-claim-policies-get");
    expect(endpointFor("PUT", `/api/tenants/${T}/auto-claim-policies/${T}`)).toBeUndefined();
  });

  it("when an endpoint answers a status it does not list, then that is a violation; a problem status every endpoint of its kind may answer is not", () => {
    expect(conformanceViolation("POST", url("/sign-in-events"), 418, PROBLEM, problem(418))).toMatch(/does not list/);
    expect(conformanceViolation("GET", url("/settings/auto-claim"), 502, PROBLEM, problem(502))).toMatch(/does not list/); // never calls Microsoft
    expect(conformanceViolation("GET", url("/products"), 502, PROBLEM, problem(502, "upstream"))).toBeUndefined();
    expect(conformanceViolation("GET", url("/settings/auto-claim"), 503, PROBLEM, problem(503))).toBeUndefined();
  });

  it("when an error is not a problem document of its own status, then that is a violation", () => {
    expect(conformanceViolation("GET", url("/products"), 502, "application/json", problem(502))).toMatch(/not application\/problem\+json/);
    expect(conformanceViolation("GET", url("/products"), 502, PROBLEM, problem(503))).toMatch(/says status 503/);
    expect(conformanceViolation("GET", url("/products"), 502, PROBLEM, JSON.stringify({ status: 502 }))).toMatch(/not a problem document/);
  });

  it("when a body does not match the documented schema or content type, then that is a violation; a documented alternative representation is not", () => {
    expect(conformanceViolation("GET", url("/settings/auto-claim"), 200, "application/json", JSON.stringify({ enabled: "yes" }))).toMatch(/does not match its documented schema/);
    expect(conformanceViolation("GET", url("/products"), 200, "text/plain", "x")).toMatch(/content type text\/plain/);
    expect(conformanceViolation("GET", url("/reports/active-user-licenses"), 200, "text/csv; charset=utf-8", "User name\r\n")).toBeUndefined();
    expect(conformanceViolation("GET", "http://127.0.0.1:7071/api/health", 503, "application/json", JSON.stringify({ status: "unhealthy", checks: {}, failed: ["cosmos"] }))).toBeUndefined();
  });

  it("when a problem carries extension members, then it conforms; one the published Problem schema refuses does not", () => {
    const withExtensions = (status: number, code: string, extensions: Record<string, unknown>) => JSON.stringify({ ...(JSON.parse(problem(status, code)) as object), ...extensions });
    expect(conformanceViolation("POST", url(`/users/${T}/assignLicense`), 404, PROBLEM, withExtensions(404, "user-not-found", { userId: T }))).toBeUndefined();
    expect(conformanceViolation("GET", url("/products"), 502, PROBLEM, withExtensions(502, "upstream", { upstreamStatus: 403, upstreamCode: "Forbidden" }))).toBeUndefined();
    const { detail: _detail, ...withoutDetail } = JSON.parse(problem(502, "upstream")) as Record<string, unknown>;
    expect(conformanceViolation("GET", url("/products"), 502, PROBLEM, JSON.stringify(withoutDetail))).toMatch(/not a problem document \(detail/);
    expect(conformanceViolation("GET", url("/products"), 502, PROBLEM, withExtensions(502, "upstream", { status: 502.5 }))).toMatch(/not a problem document \(status/);
  });

  it("when a success carries an ETag, Location or Retry-After its response does not declare, then that is a violation; declared ones are not", () => {
    const tenant = `http://127.0.0.1:7071/api/tenants/${T}`;
    const at = "2026-01-01T00:00:00.000Z";
    const body = JSON.stringify({ tenantId: T, displayName: "Contoso", status: "active", onboardedAt: at, onboardedBy: T, updatedAt: at });
    const headers = (h: Record<string, string>) => new Headers(h);
    expect(conformanceViolation("GET", url("/audit/verification"), 200, "application/json", JSON.stringify({ ok: true, count: 0, problems: [] }), headers({ ETag: '"1"' }))).toMatch(
      /header ETag, which its OpenAPI description does not declare/,
    );
    expect(conformanceViolation("PUT", tenant, 201, "application/json", body, headers({ ETag: '"1"', Location: `/api/tenants/${T}` }))).toBeUndefined();
    expect(conformanceViolation("GET", tenant, 200, "application/json", body, headers({ ETag: '"1"' }))).toBeUndefined();
    expect(conformanceViolation("POST", url("/licenses/bulk"), 207, "application/json", JSON.stringify({ dryRun: false, shortages: [], results: [] }), headers({ "Retry-After": "5" }))).toBeUndefined();
    expect(conformanceViolation("POST", url("/licenses/bulk"), 200, "application/json", JSON.stringify({ dryRun: false, shortages: [], results: [] }), headers({ "Retry-After": "5" }))).toMatch(/header Retry-After/);
  });

  it("when no endpoint takes the request, then only the catch-all's 400 / 404 / 405 problems conform", () => {
    expect(conformanceViolation("GET", url("/nothing-here"), 404, PROBLEM, problem(404, "route-not-found"))).toBeUndefined();
    expect(conformanceViolation("GET", url("/nothing-here"), 200, "application/json", "{}")).toMatch(/no endpoint takes/);
  });

  it("when the OpenAPI document is generated, then it lists 502 for the endpoints that call Microsoft only, and every representation of an answer", () => {
    const doc = buildOpenApiDocument(API_ENDPOINTS, { title: "t", version: "1" });
    const op = (path: string, method: string) => (doc.paths[path] as Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>)[method]!;
    expect(op("/api/tenants/{tenantId}/products", "get").responses["502"]).toBeDefined();
    expect(op("/api/tenants/{tenantId}/settings/auto-claim", "get").responses["502"]).toBeUndefined();
    expect(Object.keys(op("/api/tenants/{tenantId}/reports/active-user-licenses", "get").responses["200"]!.content!)).toEqual(["application/json", "text/csv"]);
    expect(op("/api/tenants/{tenantId}/entra/token-issuance-start", "post").responses["403"]).toBeDefined();
  });
});
