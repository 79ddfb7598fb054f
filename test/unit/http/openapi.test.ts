import { describe, expect, it } from "vitest";
import { API_ENDPOINTS } from "../../../shared/api-catalog.js";
import { buildOpenApiDocument } from "../../../shared/platform/openapi.js";

type Operation = { operationId: string; security?: unknown[]; "x-access": unknown; responses: Record<string, unknown> };

const doc = buildOpenApiDocument(API_ENDPOINTS, { title: "test", version: "0" });
const operations = Object.values(doc.paths).flatMap((byMethod) => Object.values(byMethod) as Operation[]);
const op = (id: string) => operations.find((o) => o.operationId === id)!;

describe("the OpenAPI document's access", () => {
  it("when an endpoint takes Entra's custom extension token (E1), then it is described as such, not as public", () => {
    const e1 = op("entra-token-issuance-start");
    expect(e1.security).toEqual([{ entraCustomExtension: [] }]);
    expect(e1["x-access"]).toEqual({ entraExtension: true });
    expect(Object.keys(e1.responses).sort()).toEqual(["200", "401", "403"]); // 403: Entra's token for another tenant than the route's
    expect(doc.components.securitySchemes).toHaveProperty("entraCustomExtension");
  });

  it("when an endpoint is public, then it needs no token; every other one names its roles", () => {
    expect(op("health-get")).toMatchObject({ security: [], "x-access": "public" });
    const publicOnes = operations.filter((o) => o["x-access"] === "public").map((o) => o.operationId).sort();
    expect(publicOnes).toEqual(["health-get", "openapi-get"]);
    expect(op("sign-in-events-post")["x-access"]).toEqual({ appRole: "SignInEvents.Send" });
  });
});

describe("the OpenAPI document's errors", () => {
  it("when an endpoint updates a versioned resource, then it takes If-Match and lists 412 and 428; an endpoint about a named resource lists 404", () => {
    const versioned = operations.filter((o) => "412" in o.responses).map((o) => o.operationId).sort();
    expect(versioned).toEqual(["auto-claim-policies-delete", "auto-claim-policies-patch", "environments-patch", "licenses-rules-put", "settings-alerts-put", "settings-auto-claim-put", "settings-automation-put", "tenants-put"]);
    // Onboarding creates or replaces: If-Match is optional there (no 428).
    expect(op("tenants-put").responses).not.toHaveProperty("428");
    const patch = op("auto-claim-policies-patch") as Operation & { parameters: { name: string; in: string; required: boolean }[] };
    expect(patch.parameters).toContainEqual(expect.objectContaining({ name: "If-Match", in: "header", required: true }));
    expect(patch.responses).toHaveProperty("428");
    expect(op("auto-claim-policies-get").responses).toHaveProperty("404");
    expect(op("auto-claim-policies-list").responses).not.toHaveProperty("404");
    expect(Object.keys(op("users-assignlicense-post").responses)).toEqual(expect.arrayContaining(["404", "409", "422"]));
  });
});
