import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../../support/stack.js";

let stack: TestStack;
let tenantId: string;
let admin: string;

beforeAll(async () => {
  stack = await startTestStack();
  tenantId = await stack.onboardTenant();
  admin = await stack.token({ tenantId, roles: ["Global Administrator"] });
});
afterAll(async () => {
  await stack?.stop();
});

const path = (kind: string) => `/api/tenants/${tenantId}/settings/${kind}`;
const put = (kind: string, body: unknown, ifMatch?: string, token = admin) =>
  stack.call(path(kind), { method: "PUT", token, body: JSON.stringify(body), headers: ifMatch ? { "If-Match": ifMatch } : {} });

describe("tenant settings (A1, P11)", () => {
  it("when a tenant never changed them, then auto-claim is off and automation is not paused", async () => {
    const autoClaim = await stack.call(path("auto-claim"), { token: admin });
    expect(autoClaim.status).toBe(200);
    expect(await autoClaim.json()).toMatchObject({ enabled: false });
    const automation = await stack.call(path("automation"), { token: await stack.token({ tenantId, roles: ["Global Reader"] }) });
    expect(await automation.json()).toMatchObject({ paused: false });
  });

  it("when updated with the ETag read, then it changes, returns a new ETag, and the change is audited", async () => {
    const etag = (await stack.call(path("auto-claim"), { token: admin })).headers.get("etag")!;
    const res = await put("auto-claim", { enabled: true }, etag);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ enabled: true });
    expect(res.headers.get("etag")).not.toBe(etag);
    const { resources } = await stack.database
      .container("audit")
      .items.query<{ action: string; before: unknown; after: unknown }>({
        query: "SELECT * FROM c WHERE c.tenantId = @t AND c.action = 'settings.auto-claim.update'",
        parameters: [{ name: "@t", value: tenantId }],
      })
      .fetchAll();
    expect(resources).toEqual([expect.objectContaining({ before: { enabled: false, reclaimAfterDays: null }, after: { enabled: true, reclaimAfterDays: null } })]);
  });

  it("when auto-claim's reclamation days are set (A13 per tenant), then they are kept and shown; a PUT without them goes back to the deployment's default (null); a wrong value is 400 naming it", async () => {
    let etag = (await stack.call(path("auto-claim"), { token: admin })).headers.get("etag")!;
    const set = await put("auto-claim", { enabled: true, reclaimAfterDays: 30 }, etag);
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({ enabled: true, reclaimAfterDays: 30 });
    expect(await (await stack.call(path("auto-claim"), { token: admin })).json()).toMatchObject({ reclaimAfterDays: 30 });
    etag = set.headers.get("etag")!;
    for (const wrong of [-1, 1.5, "30", 3651]) {
      const res = await put("auto-claim", { enabled: true, reclaimAfterDays: wrong }, etag);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { errors: { path: string }[] }).errors[0]!.path).toBe("body.reclaimAfterDays");
    }
    const replaced = await put("auto-claim", { enabled: true }, etag);
    expect(await replaced.json()).toMatchObject({ enabled: true, reclaimAfterDays: null });
  });

  it("when If-Match is stale, then 412 and nothing changes; when it is missing, then 428", async () => {
    const first = (await stack.call(path("automation"), { token: admin })).headers.get("etag")!;
    expect((await put("automation", { paused: true }, first)).status).toBe(200);
    expect((await put("automation", { paused: false }, first)).status).toBe(412);
    expect((await put("automation", { paused: false })).status).toBe(428);
    expect(await (await stack.call(path("automation"), { token: admin })).json()).toMatchObject({ paused: true });
    // A list of entity-tags (RFC 9110) passes when one of them is current.
    const current = (await stack.call(path("automation"), { token: admin })).headers.get("etag")!;
    expect((await put("automation", { paused: false }, `${first}, ${current}`)).status).toBe(200);
    expect((await put("automation", { paused: true }, `${first}, ${current}`)).status).toBe(412);
  });

  it("when the body has an unknown field or a wrong type, then 400 naming it", async () => {
    const etag = (await stack.call(path("automation"), { token: admin })).headers.get("etag")!;
    const res = await put("automation", { paused: "yes" }, etag);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errors: { path: string }[] }).errors[0]!.path).toBe("body.paused");
  });

  it("when a License Administrator or a Global Reader tries to change them, then 403", async () => {
    const etag = (await stack.call(path("auto-claim"), { token: admin })).headers.get("etag")!;
    for (const role of ["License Administrator", "Global Reader"] as const) {
      const res = await put("auto-claim", { enabled: false }, etag, await stack.token({ tenantId, roles: [role] }));
      expect(res.status).toBe(403);
    }
  });
});
