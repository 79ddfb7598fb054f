import { ClientSecretCredential } from "@azure/identity";
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_APP, DEMO_INTEGRATION_APP, DEMO_TENANT_ID } from "../../../local/sim-cloud/demo-tenant.js";
import { startTestSim, type TestSim } from "./support.js";

let t: TestSim;
beforeAll(async () => {
  t = await startTestSim();
});
afterAll(async () => {
  await t.sim.close();
});

const credential = (appId: string, secret: string) =>
  new ClientSecretCredential(DEMO_TENANT_ID, appId, secret, { authorityHost: t.sim.authorityHost, disableInstanceDiscovery: true });

describe("the simulated authority (login)", () => {
  it("when the JWKS is requested per tenant and under /common, then both publish the signing key", async () => {
    for (const path of [`/login/${DEMO_TENANT_ID}/discovery/v2.0/keys`, "/login/common/discovery/v2.0/keys", "/common/discovery/v2.0/keys"]) {
      const res = await fetch(`${t.sim.url}${path}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { keys: Array<{ kid: string; kty: string }> };
      expect(body.keys).toEqual([expect.objectContaining({ kid: t.key.kid, kty: "RSA" })]);
      expect(JSON.stringify(body)).not.toContain('"d"');
    }
  });

  it("when the OpenID configuration is requested, then issuer, token endpoint and jwks_uri point at the simulated authority", async () => {
    const res = await fetch(`${t.sim.authorityHost}/${DEMO_TENANT_ID}/v2.0/.well-known/openid-configuration`);
    const cfg = (await res.json()) as Record<string, string>;
    expect(cfg.issuer).toBe(`${t.sim.authorityHost}/${DEMO_TENANT_ID}/v2.0`);
    expect(cfg.token_endpoint).toBe(`${t.sim.authorityHost}/${DEMO_TENANT_ID}/oauth2/v2.0/token`);
    expect(cfg.jwks_uri).toBe(`${t.sim.authorityHost}/${DEMO_TENANT_ID}/discovery/v2.0/keys`);
    const common = (await (await fetch(`${t.sim.authorityHost}/common/v2.0/.well-known/openid-configuration`)).json()) as Record<string, string>;
    expect(common.issuer).toBe(`${t.sim.authorityHost}/{tenantid}/v2.0`);
  });

  it("when @azure/identity's ClientSecretCredential asks for a Graph token, then it gets an RS256 token with tid, aud, appid and roles that verifies against the JWKS", async () => {
    const token = await credential(DEMO_APP.appId, "any-secret-works-for-this-app").getToken("https://graph.microsoft.com/.default");
    expect(token.token.split(".")).toHaveLength(3);
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now());
    const jwks = createRemoteJWKSet(new URL(`${t.sim.authorityHost}/${DEMO_TENANT_ID}/discovery/v2.0/keys`));
    const { payload, protectedHeader } = await jwtVerify(token.token, jwks, {
      issuer: `${t.sim.authorityHost}/${DEMO_TENANT_ID}/v2.0`,
      audience: "https://graph.microsoft.com",
    });
    expect(protectedHeader.alg).toBe("RS256");
    expect(payload.tid).toBe(DEMO_TENANT_ID);
    expect(payload.appid).toBe(DEMO_APP.appId);
    expect(payload.azp).toBe(DEMO_APP.appId);
    expect(payload.roles).toEqual(DEMO_APP.roles);
    const res = await fetch(`${t.sim.graphBaseUrl}/v1.0/organization`, { headers: { authorization: `Bearer ${token.token}` } });
    expect(res.status).toBe(200);
  });

  it("when a Dataverse or Power Platform scope is requested, then the token's audience is that resource", async () => {
    const env = "a0000000-0000-4000-8000-00000000d002";
    const dv = await credential(DEMO_APP.appId, "x").getToken(`${t.sim.dataverseUrl(env)}/.default`);
    expect(decodeJwt(dv.token).aud).toBe(t.sim.dataverseUrl(env));
    const bap = await credential(DEMO_APP.appId, "x").getToken("https://service.powerapps.com//.default");
    expect(decodeJwt(bap.token).aud).toBe("https://service.powerapps.com/");
  });

  it("when an app with a registered secret sends the right one, then it gets a token; a wrong one is refused with invalid_client", async () => {
    const ok = await credential(DEMO_INTEGRATION_APP.appId, DEMO_INTEGRATION_APP.clientSecret).getToken("https://graph.microsoft.com/.default");
    expect(decodeJwt(ok.token).azp).toBe(DEMO_INTEGRATION_APP.appId);
    await expect(credential(DEMO_INTEGRATION_APP.appId, "wrong").getToken("https://graph.microsoft.com/.default")).rejects.toThrow(/7000215|invalid_client/);
  });

  it("when the token endpoint gets an unknown client, another grant or a scope without /.default, then it answers Entra's error format", async () => {
    const post = (form: Record<string, string>) => fetch(`${t.sim.authorityHost}/${DEMO_TENANT_ID}/oauth2/v2.0/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form).toString(),
    });
    const unknown = await post({ grant_type: "client_credentials", client_id: "11111111-1111-4111-8111-111111111111", client_secret: "x", scope: "https://graph.microsoft.com/.default" });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ error: "unauthorized_client", error_codes: [700016] });
    const grant = await post({ grant_type: "password", client_id: DEMO_APP.appId, scope: "https://graph.microsoft.com/.default" });
    expect((await grant.json()) as object).toMatchObject({ error: "unsupported_grant_type" });
    const scope = await post({ grant_type: "client_credentials", client_id: DEMO_APP.appId, client_secret: "x", scope: "User.Read" });
    expect((await scope.json()) as object).toMatchObject({ error: "invalid_scope" });
    const tenant = await fetch(`${t.sim.authorityHost}/00000000-0000-4000-8000-000000000000/oauth2/v2.0/token`, { method: "POST", body: "grant_type=client_credentials" });
    expect((await tenant.json()) as object).toMatchObject({ error: "invalid_tenant" });
  });

  it("when a service is called without a token, with an expired one or with another audience, then it answers 401 in its own error shape", async () => {
    const none = await fetch(`${t.sim.graphBaseUrl}/v1.0/users`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const body = (await none.json()) as { error: { code: string; message: string; innerError: Record<string, string> } };
    expect(body.error.code).toBe("InvalidAuthenticationToken");
    expect(body.error.innerError["request-id"]).toBeTruthy();
    expect(body.error.innerError.date).toBeTruthy();

    const { issueDevToken } = await import("../../../local/dev-identity.js");
    const expired = await issueDevToken(t.key, { authorityHost: t.sim.authorityHost, tenantId: DEMO_TENANT_ID, audience: "https://graph.microsoft.com", expiresInSeconds: -3600 });
    const res = await fetch(`${t.sim.graphBaseUrl}/v1.0/users`, { headers: { authorization: `Bearer ${expired}` } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/expired/);

    const wrongAudience = await t.token("api://something-else");
    const dv = await fetch(`${t.sim.dataverseUrl("a0000000-0000-4000-8000-00000000d002")}/api/data/v9.2/WhoAmI`, { headers: { authorization: `Bearer ${wrongAudience}` } });
    expect(dv.status).toBe(401);
    expect(((await dv.json()) as { error: { message: string } }).error.message).toMatch(/audience/i);

    const otherTenant = await issueDevToken(t.key, { authorityHost: t.sim.authorityHost, tenantId: "00000000-0000-4000-8000-000000000001", audience: "https://service.powerapps.com/" });
    const bap = await fetch(`${t.sim.bapBaseUrl}/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments?api-version=2023-06-01`, { headers: { authorization: `Bearer ${otherTenant}` } });
    expect(bap.status).toBe(401);
  });
});
