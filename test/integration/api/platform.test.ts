import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_TENANT_ID } from "../../../local/sim-cloud/demo-tenant.js";
import { startTestStack, type TestStack } from "../../support/stack.js";

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

describe("platform endpoints", () => {
  it("when every dependency answers, then GET /api/health is 200 without a token, naming each check", async () => {
    const res = await stack.call("/api/health");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; checks: Record<string, { status: string }>; failed: string[] };
    expect(body.status).toBe("ok");
    expect(body.checks.cosmos?.status).toBe("ok");
    expect(body.checks.storage?.status).toBe("ok");
    expect(body.failed).toEqual([]);
  });

  it("when the OpenAPI document is asked for, then it is OpenAPI 3.1 with every endpoint, its roles and declared enums", async () => {
    const res = await stack.call("/api/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<string, Record<string, { operationId: string; "x-access": unknown; responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>;
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/api/health", "/api/openapi.json", "/api/tenants/{tenantId}"]));
    const put = doc.paths["/api/tenants/{tenantId}"]!.put!;
    expect(put.operationId).toBe("tenants-put");
    expect(put["x-access"]).toEqual({ directoryRoles: ["Global Administrator"] });
    const tenantSchema = put.responses["201"]!.content!["application/json"]!.schema as { properties: { status: { enum: string[] } } };
    expect(tenantSchema.properties.status.enum).toEqual(["active"]);
  });

  it("when a route parameter is malformed, then 400 says so in one wording, whether the host's route template or the endpoint's schema refuses it", async () => {
    const tenantId = DEMO_TENANT_ID;
    const token = await stack.token({ tenantId, roles: ["Global Administrator"] });
    expect([200, 201]).toContain((await stack.call(`/api/tenants/${tenantId}`, { method: "PUT", token, body: JSON.stringify({ displayName: "Platform tests" }) })).status);
    for (const path of [`/api/tenants/${tenantId}/auto-claim-policies/not-a-guid`, `/api/tenants/${tenantId}/sign-in-events/bad%20id`, "/api/tenants/not-a-guid/auto-claim-policies"]) {
      const res = await stack.call(path, { token });
      expect(res.status, path).toBe(400);
      expect(await res.json(), path).toMatchObject({ detail: "The request's route parameters do not match their schema.", errors: [{ path: expect.stringMatching(/^params\./) as string }] });
    }
  });

  it("when an unknown route is called, then a problem+json 404 pointing at the OpenAPI document", async () => {
    for (const path of ["/api/no-such-thing", "/api/tenants/5f1c6e2a-7d3b-4c8e-9a41-2b6d0e8f3c17/environments/x/y/z", "/api", "/api/tenants/5f1c6e2a-7d3b-4c8e-9a41-2b6d0e8f3c17//products", "/api/tenants//products", "/api/tenants/5f1c6e2a-7d3b-4c8e-9a41-2b6d0e8f3c17/products//users"]) {
      const res = await stack.call(path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get("content-type"), path).toMatch(/application\/problem\+json/);
      expect(await res.json(), path).toMatchObject({ type: expect.stringMatching(/route-not-found$/) as string, detail: expect.stringContaining("openapi.json") as string });
    }
  });

  it("when a route is called with a method it does not take, then 405 problem+json with Allow; the route's own methods still reach it", async () => {
    const res = await stack.call("/api/health", { method: "DELETE" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET");
    expect(res.headers.get("content-type")).toMatch(/application\/problem\+json/);
    const policies = await stack.call("/api/tenants/5f1c6e2a-7d3b-4c8e-9a41-2b6d0e8f3c17/auto-claim-policies/8c8f6a0e-8f5e-4c57-9c1e-0a1b2c3d4e5f", { method: "PUT" });
    expect(policies.status).toBe(405);
    expect(policies.headers.get("allow")?.split(", ").sort()).toEqual(["DELETE", "GET", "PATCH"]);
    // The report is a path of its own: another method there is a 405 naming GET, not a bad policy id.
    const report = await stack.call("/api/tenants/5f1c6e2a-7d3b-4c8e-9a41-2b6d0e8f3c17/auto-claim-policies/report", { method: "DELETE" });
    expect(report.status).toBe(405);
    expect(report.headers.get("allow")).toBe("GET");
    const head = await stack.call("/api/health", { method: "HEAD" });
    expect(head.status).toBe(405);
    expect(head.headers.get("allow")).toBe("GET");
    expect((await stack.call("/api/health")).status).toBe(200);
    expect((await stack.call("/api/openapi.json")).status).toBe(200);
  });
});

// Runs last in this file: it stops the stack's services one by one.
describe("health when a dependency is down", () => {
  it("when Cosmos DB stops, then 503 naming cosmos; when storage stops too, then it names storage", async () => {
    await stack.processes.cosmos!.stop();
    const res = await stack.call("/api/health");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBeTruthy();
    const body = (await res.json()) as { failed: string[] };
    expect(body.failed).toEqual(["cosmos"]);

    await stack.processes.azurite!.stop();
    const res2 = await stack.call("/api/health");
    expect(res2.status).toBe(503);
    expect(((await res2.json()) as { failed: string[] }).failed.sort()).toEqual(["cosmos", "storage"]);
  });
});
