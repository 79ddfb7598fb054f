import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KNOWN_APPS } from "../../../shared/autoclaim/apps.js";
import { continueResponse, eventFromTokenIssuance, tokenIssuanceStartRequestSchema } from "../../../shared/events/entra-extension.js";
import { BI_SKUS, ENTRA_CALLER_APP_ID, LOCAL_ENTRA_EXTENSION_AUDIENCE, startAutoClaimStack, TENANT, type AutoClaimStack } from "./support.js";

let s: AutoClaimStack;
beforeAll(async () => {
  s = await startAutoClaimStack();
  await s.setSetting("auto-claim", { enabled: true });
});
afterAll(async () => {
  await s?.stop();
});

const url = `/api/tenants/${TENANT}/entra/token-issuance-start`;
const entraToken = (over: Record<string, unknown> = {}) =>
  s.stack.token({ tenantId: TENANT, appId: ENTRA_CALLER_APP_ID, audience: LOCAL_ENTRA_EXTENSION_AUDIENCE, appRoles: [], idtyp: "app", ...over });

function request(userId: string, appId: string, userType = "Member") {
  return {
    type: "microsoft.graph.authenticationEvent.tokenIssuanceStart",
    source: `/tenants/${TENANT}/applications/${appId}`,
    data: {
      "@odata.type": "microsoft.graph.onTokenIssuanceStartCalloutData",
      tenantId: TENANT,
      authenticationEventListenerId: randomUUID(),
      customAuthenticationExtensionId: randomUUID(),
      authenticationContext: {
        correlationId: randomUUID(),
        client: { ip: "30.51.176.110", locale: "en-us", market: "en-us" },
        protocol: "OAUTH2.0",
        clientServicePrincipal: { id: randomUUID(), appId, appDisplayName: "Contoso app", displayName: "Contoso app" },
        resourceServicePrincipal: { id: randomUUID(), appId, appDisplayName: "Contoso app", displayName: "Contoso app" },
        user: { id: userId, userType, displayName: "Test", userPrincipalName: `${userId}@contoso-sim.onmicrosoft.com`, createdDateTime: "2024-01-01T00:00:00Z" },
      },
    },
  };
}

const post = async (body: unknown, token?: string) => s.stack.call(url, { method: "POST", body: JSON.stringify(body), ...(token ? { token } : {}) });
const eventIdOf = (body: ReturnType<typeof request>) => eventFromTokenIssuance(tokenIssuanceStartRequestSchema.parse(body), new Date()).eventId;

describe("E1: the Entra custom authentication extension endpoint", () => {
  it("when Entra calls at a member's sign-in, then it answers continue with no claims and the user claims a license for the app", async () => {
    await s.setAvailable(BI_SKUS.primary, 5);
    const appId = KNOWN_APPS.powerBi.appId; // claims at sign-in
    await s.createPolicy({ name: "E1 app", appId, products: [{ skuId: BI_SKUS.primary }] });
    const [user] = await s.addUsers(1);
    const body = request(user!, appId);
    const res = await post(body, await entraToken());
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(continueResponse());
    expect(await s.waitForEvent(eventIdOf(body))).toMatchObject({ status: "claimed", source: "E1", caller: "entra" });
    // Entra calls again for the same token issuance: the same answer, still one event.
    const again = await post(body, await entraToken());
    expect(await again.json()).toEqual(continueResponse());
  });

  it("when the call is not from Entra (no token, an admin token, another caller app, another audience, another tenant), then it is refused", async () => {
    const body = request(randomUUID(), randomUUID());
    expect((await post(body)).status).toBe(401);
    expect((await post(body, s.admin)).status).toBe(401);
    expect((await post(body, await entraToken({ appId: randomUUID() }))).status).toBe(401);
    expect((await post(body, await entraToken({ audience: "api://someone-else" }))).status).toBe(401);
    expect((await post(body, await entraToken({ tenantId: randomUUID() }))).status).toBe(403);
  });

  it("when the route's tenant id is not a GUID, then 400 naming it, as on every route (not 403 another tenant) - after the token, as every route checks", async () => {
    const url = "/api/tenants/not-a-guid/entra/token-issuance-start";
    const body = JSON.stringify(request(randomUUID(), randomUUID()));
    const res = await s.stack.call(url, { method: "POST", body, token: await entraToken() });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ detail: "The request's route parameters do not match their schema.", errors: [{ path: "params.tenantId" }] });
    expect((await s.stack.call(url, { method: "POST", body })).status).toBe(401);
  });

  it("when a guest signs in, or Entra sends a body this endpoint does not understand, then it still answers continue and queues nothing", async () => {
    const guest = request(randomUUID(), randomUUID(), "Guest");
    expect(await (await post(guest, await entraToken())).json()).toEqual(continueResponse());
    expect(await s.getEvent(eventIdOf(guest))).toBeUndefined();
    const odd = await post({ type: "something.else" }, await entraToken());
    expect(odd.status).toBe(200);
    expect(await odd.json()).toEqual(continueResponse());
  });

  // Last: it stops the queue service and the Cosmos DB server.
  it("when Entra calls for one sign-in's token issuances at the same moment, then one event is stored and queued for the user and app", async () => {
    const appId = KNOWN_APPS.powerBi.appId;
    const [user] = await s.addUsers(1);
    const token = await entraToken();
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(request(user!, appId), token)));
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 20 }, () => 200));
    const { resources } = await s.stack.database
      .container("events")
      .items.query<string>({ query: "SELECT VALUE c.id FROM c WHERE c.event.userId = @u", parameters: [{ name: "@u", value: user! }] })
      .fetchAll();
    expect(resources).toHaveLength(1);
  });

  it("when the queue or Cosmos DB is down, then it still answers continue with no claims", async () => {
    const token = await entraToken();
    await s.stack.processes.azurite?.stop();
    const noQueue = await post(request(randomUUID(), randomUUID()), token);
    expect(noQueue.status).toBe(200);
    expect(await noQueue.json()).toEqual(continueResponse());
    await s.stack.processes.cosmos?.stop();
    const noCosmos = await post(request(randomUUID(), randomUUID()), token);
    expect(noCosmos.status).toBe(200);
    expect(await noCosmos.json()).toEqual(continueResponse());
  });
});
