import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_TENANT_ID } from "../../../local/sim-cloud/demo-tenant.js";
import { startTestStack, type TestStack } from "../../support/stack.js";

/**
 * The app is not registered (or not consented) in the tenant: Entra refuses its token requests
 * (AADSTS700016 unauthorized_client). That is Microsoft's answer, not an outage: 502 token-refused,
 * for Graph and for the Power Platform admin API alike - not a 503 to retry forever, nor a 500.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ appSettings: { MS_API_CLIENT_ID: randomUUID() } });
});
afterAll(async () => {
  await stack?.stop();
});

describe("a token Entra refuses the app", () => {
  it("when the app is not found in the tenant's directory, then Graph reads and the admin API's environment list answer 502 token-refused", async () => {
    const admin = await stack.token({ tenantId: DEMO_TENANT_ID, roles: ["Global Administrator"] });
    expect((await stack.call(`/api/tenants/${DEMO_TENANT_ID}`, { method: "PUT", token: admin, body: JSON.stringify({ displayName: "Contoso" }) })).status).toBeLessThan(300);
    for (const path of ["products", "environments"]) {
      const res = await stack.call(`/api/tenants/${DEMO_TENANT_ID}/${path}`, { token: admin });
      expect(res.status, `${path}: ${await res.clone().text()}`).toBe(502);
      expect(res.headers.get("retry-after"), path).toBeNull();
      expect(await res.json()).toMatchObject({ type: expect.stringMatching(/token-refused$/) as string, detail: expect.stringMatching(/unauthorized_client AADSTS700016/) as string });
    }
  });

  it("when the tenant is one Entra does not know (deleted, or never existed), then 502 token-refused naming invalid_tenant - not a 503 to retry for ever", async () => {
    const unknown = randomUUID();
    const admin = await stack.token({ tenantId: unknown, roles: ["Global Administrator"] });
    expect((await stack.call(`/api/tenants/${unknown}`, { method: "PUT", token: admin, body: JSON.stringify({ displayName: "Gone" }) })).status).toBeLessThan(300);
    const res = await stack.call(`/api/tenants/${unknown}/products`, { token: admin });
    expect(res.status, await res.clone().text()).toBe(502);
    expect(res.headers.get("retry-after")).toBeNull();
    expect(await res.json()).toMatchObject({ type: expect.stringMatching(/token-refused$/) as string, detail: expect.stringMatching(/invalid_tenant AADSTS90002/) as string });
  });
});
