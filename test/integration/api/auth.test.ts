import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportJWK, generateKeyPair } from "jose";
import { startTestStack, type TestStack } from "../../support/stack.js";

let stack: TestStack;
let tenantId: string;

beforeAll(async () => {
  stack = await startTestStack();
  tenantId = await stack.onboardTenant("Contoso");
});
afterAll(async () => {
  await stack?.stop();
});

async function problem(res: Response) {
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  return (await res.json()) as { status: number; type: string; detail: string; errors?: { path: string; message: string }[] };
}

const getTenant = (id: string, token?: string) => stack.call(`/api/tenants/${id}`, { token });

describe("tenant onboarding", () => {
  it("when an update of the tenant carries a stale If-Match, then 412 and nothing changes; the current ETag (quoted or bare) updates it", async () => {
    const id = randomUUID();
    const token = await stack.token({ tenantId: id, roles: ["Global Administrator"] });
    const put = (displayName: string, ifMatch?: string) =>
      stack.call(`/api/tenants/${id}`, { method: "PUT", token, body: JSON.stringify({ displayName }), headers: ifMatch ? { "If-Match": ifMatch } : {} });
    const created = await put("Northwind");
    expect(created.status).toBe(201);
    const etag = created.headers.get("etag")!;
    expect((await put("Stale", '"00000000-stale"')).status).toBe(412);
    expect(await (await getTenant(id, token)).json()).toMatchObject({ displayName: "Northwind" });
    const updated = await put("Northwind Traders", etag.replace(/"/g, ""));
    expect(updated.status).toBe(200);
    expect((await put("Again", etag)).status).toBe(412);
  });


  it("when a Global Administrator onboards a new tenant, then 201 and the tenant can be read back", async () => {
    const id = randomUUID();
    const token = await stack.token({ tenantId: id, roles: ["Global Administrator"] });
    const put = await stack.call(`/api/tenants/${id}`, { method: "PUT", token, body: JSON.stringify({ displayName: "Fabrikam" }) });
    expect(put.status).toBe(201);
    expect(put.headers.get("etag")).toBeTruthy();
    const again = await stack.call(`/api/tenants/${id}`, { method: "PUT", token, body: JSON.stringify({ displayName: "Fabrikam Ltd" }) });
    expect(again.status).toBe(200);
    const reader = await stack.token({ tenantId: id, roles: ["Global Reader"] });
    const got = await getTenant(id, reader);
    expect(got.status).toBe(200);
    expect(await got.json()).toMatchObject({ tenantId: id, displayName: "Fabrikam Ltd", status: "active" });

    const { resources: audit } = await stack.database
      .container("audit")
      .items.query<{ action: string; seq: number; before?: { displayName: string }; after: { displayName: string } }>({
        query: "SELECT * FROM c WHERE c.tenantId = @t AND c.type = 'audit' ORDER BY c.seq",
        parameters: [{ name: "@t", value: id }],
      })
      .fetchAll();
    expect(audit.map((a) => [a.seq, a.action, a.before?.displayName, a.after.displayName])).toEqual([
      [1, "tenant.onboard", undefined, "Fabrikam"],
      [2, "tenant.update", "Fabrikam", "Fabrikam Ltd"],
    ]);
  });

  it("when the body lacks displayName, then 400 naming body.displayName", async () => {
    const id = randomUUID();
    const token = await stack.token({ tenantId: id, roles: ["Global Administrator"] });
    const res = await stack.call(`/api/tenants/${id}`, { method: "PUT", token, body: JSON.stringify({}) });
    expect(res.status).toBe(400);
    expect((await problem(res)).errors?.map((e) => e.path)).toContain("body.displayName");
  });

  it("when the body is not JSON, then 400", async () => {
    const id = randomUUID();
    const token = await stack.token({ tenantId: id, roles: ["Global Administrator"] });
    const res = await stack.call(`/api/tenants/${id}`, { method: "PUT", token, body: "{not json" });
    expect(res.status).toBe(400);
  });
});

describe("authentication: 401", () => {
  it("when there is no bearer token (none, or another scheme), then 401 with a plain Bearer challenge - no error code (RFC 6750 3.1)", async () => {
    const res = await getTenant(tenantId);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe("Bearer");
    expect((await problem(res)).status).toBe(401);
    const basic = await stack.call(`/api/tenants/${tenantId}`, { headers: { Authorization: "Basic dXNlcjpwYXNz" } });
    expect(basic.status).toBe(401);
    expect(basic.headers.get("www-authenticate")).toBe("Bearer");
  });

  it("when the token has expired, then 401 with error=\"invalid_token\" in the challenge", async () => {
    const res = await getTenant(tenantId, await stack.token({ tenantId, roles: ["Global Administrator"], expiresInSeconds: -600 }));
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
  });

  it("when the token is for another audience, then 401", async () => {
    const res = await getTenant(tenantId, await stack.token({ tenantId, roles: ["Global Administrator"], audience: "api://other" }));
    expect(res.status).toBe(401);
  });

  it("when the token comes from another issuer, then 401", async () => {
    const res = await getTenant(
      tenantId,
      await stack.token({ tenantId, roles: ["Global Administrator"], authorityHost: "https://login.example.net" }),
    );
    expect(res.status).toBe(401);
  });

  it("when the signature is not the authority's, then 401", async () => {
    const { privateKey } = await generateKeyPair("RS256", { extractable: true });
    const res = await getTenant(tenantId, await stack.token({ tenantId, roles: ["Global Administrator"], signWith: await exportJWK(privateKey) }));
    expect(res.status).toBe(401);
  });

  it("when the token is garbage, then 401", async () => {
    expect((await getTenant(tenantId, "not-a-jwt")).status).toBe(401);
  });
});

describe("authorization: 403", () => {
  it("when the role is not allowed for the endpoint, then 403", async () => {
    const token = await stack.token({ tenantId, roles: ["License Administrator"] });
    const res = await stack.call(`/api/tenants/${tenantId}`, { method: "PUT", token, body: JSON.stringify({ displayName: "x" }) });
    expect(res.status).toBe(403);
    expect((await problem(res)).type).toMatch(/missing-role$/);
  });

  it("when the token has no directory role at all, then 403", async () => {
    expect((await getTenant(tenantId, await stack.token({ tenantId }))).status).toBe(403);
  });

  it("when the route names another tenant than the token's, then 403", async () => {
    const other = await stack.onboardTenant("Other");
    const res = await getTenant(other, await stack.token({ tenantId, roles: ["Global Administrator"] }));
    expect(res.status).toBe(403);
    expect((await problem(res)).type).toMatch(/wrong-tenant$/);
  });

  it("when the tenant is not onboarded, then 403 even for its Global Administrator", async () => {
    const stranger = randomUUID();
    const res = await getTenant(stranger, await stack.token({ tenantId: stranger, roles: ["Global Administrator"] }));
    expect(res.status).toBe(403);
    expect((await problem(res)).type).toMatch(/tenant-not-onboarded$/);
  });
});
