import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DEMO_IDS, demoRoleId } from "../../../local/sim-cloud/demo-tenant.js";
import { useSyncStack } from "./support.js";

/** D15: environments come from the Power Platform admin API; admins set only this product's settings. */
const E = DEMO_IDS.environments;

const stack = useSyncStack();

interface EnvironmentBody {
  id: string;
  type: string;
  hasDataverse: boolean;
  dataverseUrl: string | null;
  securityGroupId: string | null;
  settings: { syncEnabled: boolean; massDisableThresholdPercent: number; defaultSecurityRoleIds: string[] };
}

describe("D15 environments from the platform", () => {
  it("when the environments are listed, then each shows the type, Dataverse URL and security group the platform reports", async () => {
    const res = await stack.call(`/api/tenants/${stack.tenantId}/environments?limit=200`, { token: await stack.token({ tenantId: stack.tenantId, roles: ["Global Reader"] }) });
    expect(res.status).toBe(200);
    const { items, nextCursor } = (await res.json()) as { items: EnvironmentBody[]; nextCursor: string | null };
    expect(nextCursor).toBeNull();
    const byId = new Map(items.map((e) => [e.id, e]));
    expect(byId.get(E.production)).toMatchObject({
      type: "Production", hasDataverse: true, securityGroupId: DEMO_IDS.groups.sales,
      dataverseUrl: `${stack.simCloudUrl}/dataverse/${E.production}/`,
      settings: { syncEnabled: false, massDisableThresholdPercent: 10, defaultSecurityRoleIds: [] },
    });
    expect(byId.get(E.trial)?.type).toBe("Trial");
    expect(byId.get(E.developer)?.type).toBe("Developer");
    expect(byId.get(E.teams)?.type).toBe("Teams");
    expect(byId.get(E.noDataverse)).toMatchObject({ hasDataverse: false, dataverseUrl: null });
  });

  it("when an admin tries to set a URL, type or security group, then 400 and nothing is stored (no admin-supplied URL is ever called)", async () => {
    for (const body of [{ dataverseUrl: "https://evil.example/" }, { instanceUrl: "https://evil.example/" }, { securityGroupId: randomUUID() }, { type: "Trial" }]) {
      const res = await stack.configure(E.production, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    await stack.configure(E.production, { syncEnabled: true });
    await stack.sim("/counters/reset", { body: {} });
    await stack.runNow(E.production);
    const counters = await stack.sim<{ dataverse: { requests: number; byEnvironment: Record<string, number> } }>("/counters");
    expect(Object.keys(counters.dataverse.byEnvironment)).toEqual([E.production]);
  });

  it("when an environment does not exist on the platform, then 404", async () => {
    expect((await stack.call(stack.env(randomUUID()), { token: stack.admin })).status).toBe(404);
  });
});

describe("this product's settings of an environment (D13, D14)", () => {
  it("when settings change, then If-Match is required (428), a stale one is refused (412), and a merge patch changes only what it names", async () => {
    const first = await stack.call(stack.env(E.production), { token: stack.admin });
    const etag = first.headers.get("etag") ?? "";
    expect(etag).not.toBe("");
    expect((await stack.call(stack.env(E.production), { method: "PATCH", token: stack.admin, body: JSON.stringify({ syncEnabled: true }) })).status).toBe(428);
    const ok = await stack.call(stack.env(E.production), { method: "PATCH", token: stack.admin, headers: { "If-Match": etag }, body: JSON.stringify({ massDisableThresholdPercent: 25 }) });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ settings: { syncEnabled: false, massDisableThresholdPercent: 25 } });
    const stale = await stack.call(stack.env(E.production), { method: "PATCH", token: stack.admin, headers: { "If-Match": etag }, body: JSON.stringify({ syncEnabled: true }) });
    expect(stale.status).toBe(412);
    const audit = await stack.database.container("audit").items
      .query<{ before: unknown; after: unknown }>({ query: "SELECT * FROM c WHERE c.tenantId = @t AND c.action = 'environment.settings.update' AND c.target.id = @e", parameters: [{ name: "@t", value: stack.tenantId }, { name: "@e", value: E.production }] })
      .fetchAll();
    expect(audit.resources.at(-1)).toMatchObject({ after: { massDisableThresholdPercent: 25 } });

    // A patch that changes nothing writes nothing: the ETag stays (another admin's read is still current) and nothing is audited.
    const current = ok.headers.get("etag") ?? "";
    const same = await stack.call(stack.env(E.production), { method: "PATCH", token: stack.admin, headers: { "If-Match": current }, body: JSON.stringify({ massDisableThresholdPercent: 25 }) });
    expect(same.status).toBe(200);
    expect(same.headers.get("etag")).toBe(current);
    const empty = await stack.call(stack.env(E.production), { method: "PATCH", token: stack.admin, headers: { "If-Match": current }, body: "{}" });
    expect(empty.headers.get("etag")).toBe(current);
    const after = await stack.database.container("audit").items
      .query({ query: "SELECT VALUE COUNT(1) FROM c WHERE c.tenantId = @t AND c.action = 'environment.settings.update' AND c.target.id = @e", parameters: [{ name: "@t", value: stack.tenantId }, { name: "@e", value: E.production }] })
      .fetchAll();
    expect(after.resources[0]).toBe(audit.resources.length);
  });

  it("when default security roles are set, then they must exist in the environment (422 otherwise)", async () => {
    const unknown = await stack.configure(E.production, { defaultSecurityRoleIds: [randomUUID()] });
    expect(unknown.status).toBe(422);
    expect(((await unknown.json()) as { type: string }).type).toMatch(/unknown-security-role$/);
    const known = await stack.configure(E.production, { defaultSecurityRoleIds: [demoRoleId(E.production, "Basic User")] });
    expect(known.status).toBe(200);
    expect(await known.json()).toMatchObject({ settings: { defaultSecurityRoleIds: [demoRoleId(E.production, "Basic User")] } });
  });
});

describe("sync runs (D11)", () => {
  it("when a run is started, then 202 with its Location; a second start while it runs is a 409; the list shows runs newest first", async () => {
    await stack.configure(E.sandbox, { syncEnabled: true });
    // It takes no body: an option the caller believes it set is refused, not ignored (and no run starts).
    const withBody = await stack.call(stack.env(E.sandbox, "/sync-runs"), { method: "POST", token: stack.admin, body: JSON.stringify({ full: false }) });
    expect(withBody.status).toBe(400);
    expect(await withBody.json()).toMatchObject({ errors: [{ path: "body" }] });
    const first = await stack.call(stack.env(E.sandbox, "/sync-runs"), { method: "POST", token: stack.admin, body: "{}" });
    expect(first.status).toBe(202);
    const { id } = (await first.json()) as { id: string };
    expect(first.headers.get("location")).toBe(`/api/tenants/${stack.tenantId}/environments/${E.sandbox}/sync-runs/${id}`);
    const second = await stack.call(stack.env(E.sandbox, "/sync-runs"), { method: "POST", token: stack.admin });
    expect(second.status).toBe(409);
    await stack.waitForRun(E.sandbox, id);
    const again = await stack.runNow(E.sandbox);
    const list = (await (await stack.call(stack.env(E.sandbox, "/sync-runs"), { token: stack.admin })).json()) as { items: { id: string; counts: Record<string, number> }[] };
    expect(list.items.map((r) => r.id)).toEqual([again.id, id]);
    expect(Object.keys(list.items[0]?.counts ?? {}).sort()).toEqual(["added", "disabled", "drift", "failed", "reEnabled", "read", "skipped", "updated"]);
    expect((await stack.call(stack.env(E.sandbox, `/sync-runs/${randomUUID()}`), { token: stack.admin })).status).toBe(404);
  });

  it("when the OpenAPI document is read, then access modes, run states, environment types and drift kinds are enums", async () => {
    const doc = (await (await stack.call("/api/openapi.json")).json()) as { paths: Record<string, Record<string, unknown>> };
    const text = JSON.stringify(doc.paths);
    for (const value of ["nonInteractive", "awaiting-approval", "Developer", "enabledButIneligible"]) expect(text).toContain(`"${value}"`);
    expect(Object.keys(doc.paths)).toContain("/api/tenants/{tenantId}/environments/{environmentId}/users/{userId}/diagnostics");
  });
});
