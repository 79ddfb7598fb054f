import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_PLANS, DEMO_SKUS } from "../../../local/sim-cloud/demo-tenant.js";
import { KNOWN_APPS } from "../../../shared/autoclaim/apps.js";
import { BI_SKUS, startAutoClaimStack, TENANT, type AutoClaimStack } from "./support.js";

let s: AutoClaimStack;
beforeAll(async () => {
  s = await startAutoClaimStack();
});
afterAll(async () => {
  await s?.stop();
});

const base = `/api/tenants/${TENANT}/auto-claim-policies`;
const call = (path: string, init: RequestInit & { token?: string } = {}) => s.stack.call(path, { token: s.admin, ...init });
/** A policy names one of the apps auto-claim serves (one policy per app): tests that create one use `s.freshPolicy`. */
const body = (extra: Record<string, unknown> = {}) => ({
  name: "Power BI for everyone",
  appId: KNOWN_APPS.powerBi.appId,
  // Premium Per User with its Premium plan off still licenses Power BI (its Pro plan stays on).
  products: [{ skuId: BI_SKUS.primary, disabledPlans: [DEMO_PLANS.powerBiPremiumPerUser] }, { skuId: BI_SKUS.backup }],
  ...extra,
});

describe("auto-claim policies (A2-A6, A12)", () => {
  it("when a Global Administrator creates a policy, then 201 with ETag and Location, and the list shows its app, products with available licenses and status", async () => {
    const created = await s.freshPolicy(body());
    expect(created.body).toMatchObject({ status: "enabled", enabled: true, products: [{ role: "primary", skuPartNumber: "PBI_PREMIUM_PER_USER", disabledPlans: [DEMO_PLANS.powerBiPremiumPerUser] }, { role: "backup", skuPartNumber: "POWER_BI_PRO_CE", disabledPlans: [] }] });
    expect(created.etag).not.toBe("");
    const list = await call(`${base}?limit=200`, { token: await s.stack.token({ tenantId: TENANT, roles: ["Global Reader"] }) });
    expect(list.status).toBe(200);
    const { items } = (await list.json()) as { items: { id: string; products: { available: number | null; total: number | null }[] }[] };
    const mine = items.find((p) => p.id === created.id);
    expect(mine?.products[0]?.available).toEqual(expect.any(Number));
    expect(mine?.products[0]?.total).toBe(25);
  });

  it("when the app is not one auto-claim serves (Dataverse, another app), then 400 naming body.appId and the apps it serves; a served app's id in upper case is accepted and kept in lower case", async () => {
    for (const appId of [KNOWN_APPS.dataverse.appId, randomUUID(), "not-a-guid"]) {
      const res = await call(base, { method: "POST", body: JSON.stringify(body({ appId, name: "Other app" })) });
      expect(res.status).toBe(400);
      const { errors } = (await res.json()) as { errors: { path: string; message: string }[] };
      expect(errors).toEqual([{ path: "body.appId", message: expect.stringContaining("must be one of the apps auto-claim serves") }]);
      for (const app of [KNOWN_APPS.powerApps, KNOWN_APPS.powerAutomate, KNOWN_APPS.powerBi]) expect(errors[0]?.message).toContain(`${app.displayName} ${app.appId}`);
    }
    const upper = await s.freshPolicy(body({ appId: KNOWN_APPS.powerBi.appId.toUpperCase(), name: "Power BI" }));
    expect(upper.body).toMatchObject({ appId: KNOWN_APPS.powerBi.appId, appDisplayName: "Power BI" });
  });

  it("when a policy id in the route is not a GUID, then 400 problem+json naming params.policyId (not an empty 404)", async () => {
    const res = await call(`${base}/not-a-guid`);
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/problem\+json/);
    expect(JSON.stringify(await res.json())).toContain("policyId");
    // A GUID of no RFC 4122 version or variant is still a GUID: no such policy, not a malformed id.
    const unknown = await call(`${base}/11111111-1111-1111-1111-111111111111`);
    expect(unknown.status).toBe(404);
  });

  it("when a second policy names the same app, then 409 policy-exists-for-app", async () => {
    const first = await s.freshPolicy(body());
    const second = await call(base, { method: "POST", body: JSON.stringify(body({ appId: first.body.appId, name: "again" })) });
    expect(second.status).toBe(409);
    expect(await second.json()).toMatchObject({ type: expect.stringMatching(/policy-exists-for-app$/), policyId: first.id });
  });

  it("when a policy has no product, more than 4 backups, or the same product twice, then 400 naming the field", async () => {
    const skus = [DEMO_SKUS.powerAppsPerUser, DEMO_SKUS.powerAutomatePerUser, DEMO_SKUS.office365E3, DEMO_SKUS.exchangePlan1, DEMO_SKUS.teamsPhone, DEMO_SKUS.powerAutomateFree];
    for (const products of [[], skus.map((skuId) => ({ skuId })), [{ skuId: DEMO_SKUS.powerAppsPerUser }, { skuId: DEMO_SKUS.powerAppsPerUser }]]) {
      const res = await call(base, { method: "POST", body: JSON.stringify(body({ products })) });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { errors: { path: string }[] }).errors[0]?.path).toMatch(/^body\.products/);
    }
  });

  it("when a policy's name holds control characters or text-direction overrides (it shows in portals, reports and the audit trail), then 400 naming body.name; other scripts are fine", async () => {
    for (const name of ["two\nlines", "nul\u0000byte", "tab\there", "abc\u202Eevil", "line\u2028separator"]) {
      const res = await call(base, { method: "POST", body: JSON.stringify(body({ name })) });
      expect(res.status, JSON.stringify(name)).toBe(400);
      expect(((await res.json()) as { errors: { path: string }[] }).errors[0]?.path).toBe("body.name");
    }
    const fine = await s.freshPolicy(body({ name: "Ventes Île-de-France – 販売 👩‍💼" }));
    expect(fine.body).toMatchObject({ name: "Ventes Île-de-France – 販売 👩‍💼" });
  });

  it("when a product is not the tenant's, a disabled plan is not the product's, or the product is a self-service purchase, then 422", async () => {
    const cases: [Record<string, unknown>[], string][] = [
      [[{ skuId: randomUUID() }], "unknown-product"],
      [[{ skuId: DEMO_SKUS.powerAppsPerUser, disabledPlans: [DEMO_PLANS.teamsPhone] }], "unknown-service-plan"],
      [[{ skuId: DEMO_SKUS.powerBiProSelfService }], "self-service-subscription"],
    ];
    for (const [products, code] of cases) {
      const res = await call(base, { method: "POST", body: JSON.stringify(body({ products })) });
      expect(res.status).toBe(422);
      expect(((await res.json()) as { type: string }).type).toMatch(new RegExp(`${code}$`));
    }
  });

  it("when a product does not license the policy's app, or its plan that does is switched off, then 422 product-not-for-app naming the product, on create and on edit, and nothing is saved (A2)", async () => {
    const refused = async (res: Response, skuId: string) => {
      expect(res.status).toBe(422);
      const problem = (await res.json()) as { type: string; skuId: string; appId: string; detail: string };
      expect(problem).toMatchObject({ type: expect.stringMatching(/product-not-for-app$/), skuId });
      return problem;
    };
    const cases: [string, Record<string, unknown>[], string][] = [
      // Power Automate per user does not license Power BI; Office 365 E3's Power Apps plan is not Power Apps Premium;
      // the free and trial plans of Power Automate and Power Apps license nothing a claim is for.
      [KNOWN_APPS.powerBi.appId, [{ skuId: BI_SKUS.primary }, { skuId: DEMO_SKUS.powerAutomatePerUser }], DEMO_SKUS.powerAutomatePerUser],
      [KNOWN_APPS.powerApps.appId, [{ skuId: DEMO_SKUS.office365E3 }], DEMO_SKUS.office365E3],
      [KNOWN_APPS.powerApps.appId, [{ skuId: DEMO_SKUS.powerAppsTrial }], DEMO_SKUS.powerAppsTrial],
      [KNOWN_APPS.powerAutomate.appId, [{ skuId: DEMO_SKUS.powerAutomateFree }], DEMO_SKUS.powerAutomateFree],
    ];
    for (const [appId, products, skuId] of cases) {
      const problem = await refused(await call(base, { method: "POST", body: JSON.stringify(body({ appId, products })) }), skuId);
      expect(problem.appId).toBe(appId);
    }
    // The Power Apps plan of Power Apps Premium switched off: the detail says which plan to leave on.
    const off = await refused(
      await call(base, { method: "POST", body: JSON.stringify(body({ appId: KNOWN_APPS.powerApps.appId, products: [{ skuId: DEMO_SKUS.powerAppsPerUser, disabledPlans: [DEMO_PLANS.powerAppsPerUser] }] })) }),
      DEMO_SKUS.powerAppsPerUser,
    );
    expect(off.detail).toContain("POWERAPPS_PER_USER");
    // Edit: the policy's app stays what it is, and its products are checked against it.
    const created = await s.freshPolicy(body());
    const edited = await call(`${base}/${created.id}`, { method: "PATCH", headers: { "If-Match": created.etag }, body: JSON.stringify({ products: [{ skuId: DEMO_SKUS.powerAppsPerUser }] }) });
    await refused(edited, DEMO_SKUS.powerAppsPerUser);
    const read = await call(`${base}/${created.id}`);
    expect(read.headers.get("etag")).toBe(created.etag);
    expect(await read.json()).toMatchObject({ products: [{ skuId: BI_SKUS.primary }, { skuId: BI_SKUS.backup }] });
  });

  it("when patched with the ETag read (rename, reorder, disable), then it changes; a stale ETag is 412, none is 428, and the last product cannot go", async () => {
    const created = await s.freshPolicy(body());
    const url = `${base}/${created.id}`;
    const patch = (b: unknown, ifMatch?: string) => call(url, { method: "PATCH", body: JSON.stringify(b), headers: ifMatch ? { "If-Match": ifMatch } : {} });
    const renamed = await patch({ name: "Renamed", enabled: false, products: [{ skuId: BI_SKUS.backup }, { skuId: BI_SKUS.primary }] }, created.etag);
    expect(renamed.status).toBe(200);
    expect(await renamed.json()).toMatchObject({ name: "Renamed", status: "disabled", products: [{ skuId: BI_SKUS.backup, role: "primary" }, { skuId: BI_SKUS.primary, role: "backup" }] });
    expect((await patch({ name: "Stale" }, created.etag)).status).toBe(412);
    expect((await patch({ name: "No ETag" })).status).toBe(428);
    const etag = renamed.headers.get("etag") ?? "";
    expect((await patch({ products: [] }, etag)).status).toBe(400);
    expect((await patch({ appId: randomUUID() }, etag)).status).toBe(400);
    const read = await call(url);
    expect(read.headers.get("etag")).toBe(etag);
    expect(await read.json()).toMatchObject({ name: "Renamed" });

    // A patch that changes nothing writes nothing: same ETag, same updatedAt, no audit record.
    const audited = async () => {
      const { resources } = await s.stack.database.container("audit").items
        .query({ query: "SELECT VALUE COUNT(1) FROM c WHERE c.tenantId = @t AND c.action = 'auto-claim.policy.update' AND c.target.id = @p", parameters: [{ name: "@t", value: TENANT }, { name: "@p", value: created.id }] })
        .fetchAll();
      return resources[0] as number;
    };
    const records = await audited();
    const { updatedAt } = (await (await call(url)).json()) as { updatedAt: string };
    const same = await patch({ name: "Renamed", enabled: false }, etag);
    expect(same.status).toBe(200);
    expect(same.headers.get("etag")).toBe(etag);
    expect(((await same.json()) as { updatedAt: string }).updatedAt).toBe(updatedAt);
    expect(await audited()).toBe(records);
  });

  it("when a policy is read, then its ETag is a quoted entity-tag (RFC 9110); If-Match takes it as sent, or bare", async () => {
    const created = await s.freshPolicy(body());
    const url = `${base}/${created.id}`;
    expect(created.etag).toMatch(/^"[^"]+"$/);
    const patch = (b: unknown, ifMatch: string) => call(url, { method: "PATCH", body: JSON.stringify(b), headers: { "If-Match": ifMatch } });
    const quoted = await patch({ name: "Quoted" }, created.etag);
    expect(quoted.status, await quoted.clone().text()).toBe(200);
    const next = quoted.headers.get("etag") ?? "";
    expect(next).toMatch(/^"[^"]+"$/);
    expect((await patch({ name: "Bare" }, next.slice(1, -1))).status).toBe(200);
    expect((await patch({ name: "Stale" }, next)).status).toBe(412);
  });

  it("when a policy is deleted with its ETag, then it is gone and its app can have a new policy", async () => {
    const created = await s.freshPolicy(body());
    expect((await call(`${base}/${created.id}`, { method: "DELETE" })).status).toBe(428);
    expect((await call(`${base}/${created.id}`, { method: "DELETE", headers: { "If-Match": created.etag } })).status).toBe(204);
    expect((await call(`${base}/${created.id}`)).status).toBe(404);
    await s.createPolicy(body({ appId: created.body.appId }));
  });

  it("when a License Administrator or a Global Reader writes a policy, then 403; a Global Reader can read the list", async () => {
    for (const role of ["License Administrator", "Global Reader"] as const) {
      const token = await s.stack.token({ tenantId: TENANT, roles: [role] });
      expect((await call(base, { method: "POST", token, body: JSON.stringify(body()) })).status).toBe(403);
    }
    const audit = await s.stack.database
      .container("audit")
      .items.query<{ action: string }>({ query: "SELECT c.action FROM c WHERE c.tenantId = @t AND STARTSWITH(c.action, 'auto-claim.policy')", parameters: [{ name: "@t", value: TENANT }] })
      .fetchAll();
    expect(audit.resources.map((r) => r.action)).toEqual(expect.arrayContaining(["auto-claim.policy.create", "auto-claim.policy.update", "auto-claim.policy.delete"]));
  });
});
