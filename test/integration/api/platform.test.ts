import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

  it("when an unknown route is called, then 404", async () => {
    expect((await stack.call("/api/no-such-thing")).status).toBe(404);
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
