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
    expect(Object.keys(e1.responses).sort()).toEqual(["200", "401"]);
    expect(doc.components.securitySchemes).toHaveProperty("entraCustomExtension");
  });

  it("when an endpoint is public, then it needs no token; every other one names its roles", () => {
    expect(op("health-get")).toMatchObject({ security: [], "x-access": "public" });
    const publicOnes = operations.filter((o) => o["x-access"] === "public").map((o) => o.operationId).sort();
    expect(publicOnes).toEqual(["health-get", "openapi-get"]);
    expect(op("sign-in-events-post")["x-access"]).toEqual({ appRole: "SignInEvents.Send" });
  });
});
