import { readFileSync } from "node:fs";
import { HttpRequest, InvocationContext, type HttpResponseInit } from "@azure/functions";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { API_ENDPOINTS } from "../../../shared/api-catalog.js";
import { ACCESS } from "../../../shared/auth/roles.js";
import { defineEndpoint, endpointHandler, MAX_BODY_BYTES } from "../../../shared/http/endpoint.js";
import { buildOpenApiDocument } from "../../../shared/platform/openapi.js";

type Operation = { operationId: string; security?: unknown[]; "x-access": unknown; parameters?: { name: string }[]; responses: Record<string, unknown> };

const doc = buildOpenApiDocument(API_ENDPOINTS, { title: "test", version: "0" });
const operations = Object.values(doc.paths).flatMap((byMethod) => Object.values(byMethod) as Operation[]);
const op = (id: string) => operations.find((o) => o.operationId === id)!;

describe("the OpenAPI document's access", () => {
  it("when an endpoint takes Entra's custom extension token (E1), then it is described as such, not as public", () => {
    const e1 = op("entra-token-issuance-start");
    expect(e1.security).toEqual([{ entraCustomExtension: [] }]);
    expect(e1["x-access"]).toEqual({ entraExtension: true });
    expect(Object.keys(e1.responses).sort()).toEqual(["200", "400", "401", "403"]); // 403: Entra's token for another tenant than the route's
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

  it("when an endpoint reads an optional request header (Prefer: respond-async on the L13 report), then the document lists it", () => {
    const report = op("reports-active-user-licenses-get") as Operation & { parameters: { name: string; in: string; required: boolean; description?: string }[] };
    expect(report.parameters).toContainEqual(expect.objectContaining({ name: "Prefer", in: "header", required: false, description: expect.stringContaining("respond-async") as string }));
  });
});

type Json = Record<string, unknown>;
type Response = { $ref?: string; description?: string; headers?: Json; content?: Record<string, { schema?: Json }> };
type FullOperation = Operation & { requestBody?: { content: Record<string, { schema: Json }> }; responses: Record<string, Response> };
const entries = Object.entries(doc.paths).flatMap(([path, byMethod]) =>
  Object.entries(byMethod as Record<string, FullOperation>).map(([method, operation]) => ({ path, method, operation })),
);
const full = (id: string) => op(id) as FullOperation;
/** A response as a client reads it: a `$ref` to the shared problem responses followed. */
const resolve = (r: Response): Response =>
  r.$ref ? (doc.components.responses as Record<string, Response>)[r.$ref.replace("#/components/responses/", "")]! : r;
/** The published JSON Schema of a response, read back as a validator (what a client validating against the document does). */
const published = (id: string, status: string, contentType = "application/json") =>
  z.fromJSONSchema(resolve(full(id).responses[status]!).content![contentType]!.schema as Parameters<typeof z.fromJSONSchema>[0]);
const description = (id: string, status: string) => resolve(full(id).responses[status]!).description ?? "";
const problemValidator = z.fromJSONSchema(doc.components.schemas.Problem);
const problem = (status: number, code: string, extensions: Json = {}) => ({
  type: `https://license-control-plane.dev/problems/${code}`,
  title: "t",
  status,
  detail: "d",
  ...extensions,
});

describe("the OpenAPI document's problems (RFC 9457)", () => {
  it("when a problem carries extension members, then the published Problem schema accepts it; type, title, status and detail stay required", () => {
    const real = [
      problem(404, "user-not-found", { userId: "6a0d7e52-0000-4000-8000-000000000001" }),
      problem(502, "upstream", { upstreamStatus: 403, upstreamCode: "Authorization_RequestDenied" }),
      problem(422, "not-enough-licenses", { skuId: "s", skuPartNumber: "P", shortBy: 2, available: 0 }),
      problem(409, "group-inherited-license", { skuId: "s", groupIds: ["g"] }),
      problem(422, "conflicting-service-plans", { servicePlans: [{ servicePlanId: "p", servicePlanName: "P" }] }),
      problem(405, "method-not-allowed", { allowed: ["GET"] }),
      problem(409, "event-id-reused", { eventId: "e" }),
      { ...problem(400, "validation"), errors: [{ path: "body.userIds", message: "required" }] },
    ];
    for (const body of real) expect(problemValidator.safeParse(body).success, JSON.stringify(body)).toBe(true);
    expect(doc.components.schemas.Problem).not.toHaveProperty("additionalProperties", false);
    expect((doc.components.schemas.Problem as { required?: string[] }).required?.sort()).toEqual(["detail", "status", "title", "type"]);
    for (const member of ["type", "title", "status", "detail"]) {
      const { [member]: _left, ...without }: Json = problem(404, "user-not-found", { userId: "u" });
      expect(problemValidator.safeParse(without).success, member).toBe(false);
    }
  });

  it("when the whole document is walked, then every 4xx and 5xx response is application/problem+json with the Problem schema (health's 503, a health report, aside)", () => {
    const withoutProblem: string[] = [];
    const ownSchemas: string[] = [];
    for (const { operation } of entries) {
      const def = API_ENDPOINTS.find((d) => d.name === operation.operationId)!;
      for (const [status, declared] of Object.entries(operation.responses)) {
        if (Number(status) < 400) continue;
        const r = resolve(declared);
        if (def.responses[Number(status)]?.schema) {
          ownSchemas.push(`${operation.operationId} ${status}`);
          continue;
        }
        const schema = r.content?.["application/problem+json"]?.schema;
        if (schema?.$ref !== "#/components/schemas/Problem" || Object.keys(r.content ?? {}).length !== 1) withoutProblem.push(`${operation.operationId} ${status}`);
      }
    }
    expect(withoutProblem).toEqual([]);
    expect(ownSchemas).toEqual(["health-get 503"]);
    // The rule-specific ones QA found bare, for instance:
    expect(full("users-assignlicense-post").responses["422"]!.content).toEqual({ "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } });
    expect(full("reports-jobs-result-get").responses["409"]!.content).toHaveProperty("application/problem+json");
  });
});

describe("the OpenAPI document's bodies and headers", () => {
  it("when a bulk change (or its dry run) answers 207, then its schema takes dryRun and shortages, as the 200's does", () => {
    const body = {
      dryRun: true,
      shortages: [],
      results: [
        { userId: "u1", outcome: "failed", error: { code: "usage-location-missing", message: "m" } },
        { userId: "u2", outcome: "succeeded", plan: { add: [{ skuId: "s", disabledPlans: [] }], remove: [], unchanged: [] } },
      ],
    };
    expect(published("licenses-bulk-post", "207").safeParse(body).success).toBe(true);
    expect(published("licenses-bulk-post", "207").safeParse({ ...body, dryRun: false }).success).toBe(true);
    expect(full("licenses-bulk-post").responses["207"]!.content).toEqual(full("licenses-bulk-post").responses["200"]!.content);
  });

  it("when onboarding answers 201 (or 200), then Location and ETag are declared; every ETag-carrying read and write and every 202 declares its header", () => {
    for (const status of ["200", "201"]) expect(Object.keys(full("tenants-put").responses[status]!.headers ?? {}).sort()).toEqual(["ETag", "Location"]);
    const missing: string[] = [];
    const headers = (r: Response) => Object.keys(resolve(r).headers ?? {});
    // A versioned resource (its writes take If-Match): the GET of it and each write's answer carry its ETag.
    const versionedPaths = new Set(entries.filter((e) => e.operation.parameters?.some((p) => p.name === "If-Match")).map((e) => e.path));
    for (const { path, method, operation } of entries) {
      for (const [status, r] of Object.entries(operation.responses)) {
        const code = Number(status);
        if (versionedPaths.has(path) && (method === "get" || method === "put" || method === "patch") && (code === 200 || code === 201) && !headers(r).includes("ETag")) {
          missing.push(`${operation.operationId} ${status} ETag`);
        }
        if (code === 202 && !headers(r).includes("Location")) missing.push(`${operation.operationId} ${status} Location`);
        // An application user is created without a Location (the app sends none; its body names it).
        if (code === 201 && operation.operationId !== "environments-application-users-post" && !headers(r).includes("Location")) missing.push(`${operation.operationId} ${status} Location`);
      }
    }
    expect(missing).toEqual([]);
    expect(Object.keys(full("tenants-get").responses["200"]!.headers ?? {})).toEqual(["ETag"]);
  });

  it("when work is accepted (202), then the status of its body is an enum of the statuses that work goes through; a sync run's failure names its op from an enum", () => {
    const accepted = entries.filter((e) => "202" in e.operation.responses);
    expect(accepted.map((e) => e.operation.operationId).sort()).toEqual(["environments-sync-runs-approve", "environments-sync-runs-post", "reports-active-user-licenses-get", "sign-in-events-post"]);
    const bodyOf = (id: string, status: string) => resolve(full(id).responses[status]!).content?.["application/json"]?.schema as { properties: Record<string, { enum?: unknown[]; items?: { properties: Record<string, { enum?: unknown[] }> } }> };
    for (const { operation } of accepted) expect(bodyOf(operation.operationId, "202").properties.status?.enum, operation.operationId).toEqual(expect.arrayContaining(["queued"]));
    expect(bodyOf("environments-sync-runs-get", "200").properties.failures?.items?.properties.op?.enum).toEqual(["add", "reenable", "update", "disable", "assignRoles", "assignRole"]);
  });

  it("when Graph throttled some users of a multi-user change, then the 207 declares the Retry-After it carries; 429 and 503 problems declare theirs", () => {
    for (const id of ["licenses-bulk-post", "products-assignments-post"]) expect(full(id).responses["207"]!.headers).toHaveProperty("Retry-After");
    expect(resolve(full("products-list").responses["503"]!).headers).toHaveProperty("Retry-After");
    expect(full("sign-in-events-post").responses["429"]!.headers).toHaveProperty("Retry-After");
  });

  it("when a PATCH body is described, then it is a JSON merge patch (application/merge-patch+json), also taken as application/json", () => {
    const patches = entries.filter((e) => e.method === "patch");
    expect(patches.length).toBeGreaterThan(0);
    for (const { operation } of patches) expect(Object.keys(operation.requestBody?.content ?? {}), operation.operationId).toEqual(["application/merge-patch+json", "application/json"]);
    expect(Object.keys(full("auto-claim-policies-post").requestBody!.content)).toEqual(["application/json"]);
  });
});

describe("the OpenAPI document's error descriptions", () => {
  const codesOf = (section: string, status: number): string[] => {
    const text = readFileSync(new URL("../../../docs/errors.md", import.meta.url), "utf8");
    const body = text.split(/^## /m).find((s) => s.startsWith(section)) ?? "";
    return [...body.matchAll(new RegExp(`^\\| ${status} \\| ([^|]+)\\|`, "gm"))].flatMap((m) => [...m[1]!.matchAll(/`([^`]+)`/g)].map((c) => c[1]!));
  };

  it("when an endpoint answers 422, then its description names every code docs/errors.md gives it", () => {
    const licenseCodes = codesOf("License administration", 422);
    expect(licenseCodes).toContain("unknown-service-plan");
    const expected: Record<string, string[]> = {
      "users-assignlicense-post": licenseCodes,
      "users-licenses-patch": ["unknown-product", "unknown-service-plan", "self-service-subscription", "conflicting-service-plans", "missing-prerequisite-plan", "usage-location-missing"],
      "products-assignments-post": ["not-enough-licenses", "self-service-subscription", "unknown-service-plan"],
      "licenses-bulk-post": ["not-enough-licenses", "unknown-product", "self-service-subscription", "unknown-service-plan"],
      "auto-claim-policies-post": ["unknown-product", "unknown-service-plan", "self-service-subscription"],
      "auto-claim-policies-patch": ["unknown-product", "unknown-service-plan", "self-service-subscription"],
      "sign-in-events-post": ["event-too-old", "event-in-future"],
      "environments-patch": ["unknown-security-role", "environment-without-dataverse"],
      "environments-sync-runs-post": ["sync-disabled", "environment-not-synced", "environment-without-dataverse"],
      "environments-sync-runs-approve": ["sync-disabled"],
      "environments-users-post": ["user-not-eligible", "platform-refused", "environment-without-dataverse"],
      "environments-users-refresh": ["user-not-eligible", "platform-refused", "environment-without-dataverse"],
      "environments-users-list": ["environment-without-dataverse"],
      "environments-users-patch": ["environment-without-dataverse"],
      "environments-application-users-post": ["unknown-security-role", "environment-without-dataverse", "platform-refused"],
      "environments-application-users-patch": ["environment-without-dataverse"],
    };
    const unnamed = Object.entries(expected).flatMap(([id, codes]) => codes.filter((c) => !description(id, "422").includes(c)).map((c) => `${id}: ${c}`));
    expect(unnamed).toEqual([]);
  });

  it("when a multi-user license change is refused as a whole before Graph is called, then 422 says so (not 207), and a bulk dry run answers the status the real run would", () => {
    const bulk = (status: string) => description("licenses-bulk-post", status);
    expect(bulk("200")).not.toMatch(/\(or a dry run\)/);
    expect(bulk("200")).toMatch(/dry run/);
    expect(bulk("207")).toMatch(/dry run, would fail/);
    expect(bulk("207")).toMatch(/422, not a 207/);
    expect(bulk("422")).toMatch(/a dry run answers the same/);
    expect(description("products-assignments-post", "207")).toMatch(/422, not a 207/);
    expect(description("products-assignments-post", "422")).toMatch(/before Microsoft Graph is called/);
  });
});

describe("PATCH bodies as the app takes them", () => {
  it("when a PATCH body is sent as application/merge-patch+json, then the endpoint reads and validates it as JSON (what the document declares)", async () => {
    const def = defineEndpoint({
      name: "test-patch",
      method: "PATCH",
      route: "test",
      summary: "t",
      tag: "t",
      access: ACCESS.public,
      body: z.object({ enabled: z.boolean().optional(), threshold: z.number().nullable().optional() }).strict(),
      responses: { 200: { description: "ok" } },
    });
    const handler = endpointHandler(def, () => Promise.reject(new Error("public: no token")), ({ body }) => Promise.resolve({ status: 200, jsonBody: body }));
    const send = (text: string) =>
      handler(
        new HttpRequest({ method: "PATCH", url: "http://localhost/api/test", headers: { "content-type": "application/merge-patch+json" }, body: { string: text } }),
        new InvocationContext({ functionName: def.name, logHandler: () => undefined }),
      );
    const ok = (await send(JSON.stringify({ threshold: null }))) as HttpResponseInit;
    expect(ok.status).toBe(200);
    expect(ok.jsonBody).toEqual({ threshold: null });
    expect((await send(JSON.stringify({ unknown: 1 }))).status).toBe(400);
  });
});

describe("request bodies' media type and size (413, 415)", () => {
  const def = defineEndpoint({
    name: "test-post", method: "POST", route: "test", summary: "t", tag: "t", access: ACCESS.public,
    body: z.object({ n: z.number() }).strict(),
    responses: { 200: { description: "ok" } },
  });
  let ran = 0;
  const handler = endpointHandler(def, () => Promise.reject(new Error("public: no token")), () => {
    ran++;
    return Promise.resolve({ status: 200 });
  });
  // Bytes: a string body would get text/plain from the Request constructor when no Content-Type is given.
  const send = async (text: string, headers: Record<string, string>) => {
    const res = (await handler(
      new HttpRequest({ method: "POST", url: "http://localhost/api/test", headers, body: { bytes: new TextEncoder().encode(text) } }),
      new InvocationContext({ functionName: def.name, logHandler: () => undefined }),
    )) as HttpResponseInit;
    return { status: res.status, problem: typeof res.body === "string" ? (JSON.parse(res.body) as { errors?: { path: string }[] }) : undefined };
  };

  it("when a body is sent as text, a form, another charset or a JSON Patch, then 415 names the header and the use-case does not run", async () => {
    ran = 0;
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1", "application/json-patch+json", "application/xml"]) {
      const res = await send('{"n":1}', { "content-type": type });
      expect(res.status, type).toBe(415);
      expect(res.problem?.errors?.[0]?.path).toBe("headers.content-type");
    }
    expect(ran).toBe(0);
  });

  it("when a body is JSON (any +json type, UTF-8, or no Content-Type at all), then it is read", async () => {
    ran = 0;
    const bodies: Record<string, string>[] = [{ "content-type": "application/json" }, { "content-type": "Application/JSON; charset=UTF-8" }, { "content-type": "application/merge-patch+json" }, {}];
    for (const headers of bodies) {
      expect((await send('{"n":1}', headers)).status, JSON.stringify(headers)).toBe(200);
    }
    expect(ran).toBe(4);
  });

  it("when a body is compressed (Content-Encoding), then 415; when it is not valid UTF-8, then 400 - not read with replacement characters", async () => {
    ran = 0;
    expect((await send('{"n":1}', { "content-type": "application/json", "content-encoding": "br" })).status).toBe(415);
    const res = await handler(
      new HttpRequest({ method: "POST", url: "http://localhost/api/test", headers: { "content-type": "application/json" }, body: { bytes: new Uint8Array([0x7b, 0x22, 0x6e, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]) } }),
      new InvocationContext({ functionName: def.name, logHandler: () => undefined }),
    );
    expect(res.status).toBe(400);
    expect(ran).toBe(0);
  });

  it("when a body is over 1 MiB, then 413 - before it is read when Content-Length says so; also when it is only whitespace - and the use-case does not run", async () => {
    expect((await send(" ".repeat(MAX_BODY_BYTES + 1), { "content-type": "application/json" })).status).toBe(413);
    ran = 0;
    const big = JSON.stringify({ n: 1, pad: "x".repeat(MAX_BODY_BYTES) });
    expect((await send(big, { "content-type": "application/json" })).status).toBe(413);
    expect((await send("{}", { "content-type": "application/json", "content-length": String(MAX_BODY_BYTES + 1) })).status).toBe(413);
    expect(ran).toBe(0);
  });
});

describe("the OpenAPI document's patterns", () => {
  it("when a pattern takes a GUID, then it takes it in upper case too, as the API does (a JSON Schema pattern carries no i flag)", () => {
    const patterns: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === "object") {
        for (const [key, value] of Object.entries(node)) {
          if (key === "pattern" && typeof value === "string") patterns.push(value);
          else walk(value);
        }
      }
    };
    walk(doc);
    const lower = "3f1a2b4c-00ab-4cde-8f00-00000000abcd";
    const guidPatterns = patterns.filter((p) => new RegExp(p).test(lower));
    expect(guidPatterns.length).toBeGreaterThan(0);
    for (const p of guidPatterns) expect(new RegExp(p).test(lower.toUpperCase()), p).toBe(true);
  });
});
