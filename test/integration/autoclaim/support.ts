import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import { DEMO_PLANS, DEMO_SKUS, DEMO_TENANT_ID } from "../../../local/sim-cloud/demo-tenant.js";
import { LOCAL_ENTRA_EXTENSION_AUDIENCE } from "../../../local/stack.js";
import { startTestStack, type TestStack } from "../../support/stack.js";

/**
 * Shared helpers of the auto-claim integration tests: the demo tenant of the simulated cloud
 * (the app's Microsoft calls go there), tokens, settings, policies, events, and the sim's admin API.
 */
export const TENANT = DEMO_TENANT_ID;
export const ENTRA_CALLER_APP_ID = "99045fe1-7639-4a75-9d4a-577b6ca3810f";
export const RELAY_APP_ID = "5e1a7c2d-0b1f-4c3e-9d2a-6f8b7e4c1a90";

/**
 * Power BI products of the test tenant: most tests use a Power BI policy (it claims at a plain
 * sign-in), and each product of a policy must license its app (A2). The demo tenant has one
 * (Premium Per User); `startAutoClaimStack` adds the other two to the simulated tenant.
 */
export const BI_SKUS = {
  primary: DEMO_SKUS.powerBiPremiumPerUser,
  backup: "7b0a4f3e-2c51-4d8a-9e6f-1a2b3c4d5e01",
  third: "7b0a4f3e-2c51-4d8a-9e6f-1a2b3c4d5e02",
} as const;
const EXTRA_BI_PRODUCTS = [
  { skuId: BI_SKUS.backup, skuPartNumber: "POWER_BI_PRO_CE", displayName: "Power BI Pro (nonprofit)", prepaidUnits: { enabled: 20 }, servicePlans: [{ servicePlanId: DEMO_PLANS.powerBi, servicePlanName: "BI_AZURE_P2" }] },
  { skuId: BI_SKUS.third, skuPartNumber: "PBI_PREMIUM_PER_USER_ADDON", displayName: "Power BI Premium Per User Add-On", prepaidUnits: { enabled: 10 }, servicePlans: [{ servicePlanId: DEMO_PLANS.powerBiPremiumPerUser, servicePlanName: "BI_AZURE_P3" }] },
];

export interface AutoClaimStack {
  stack: TestStack;
  admin: string;
  relay: string;
  sim(path: string, init?: { method?: string; body?: unknown }): Promise<unknown>;
  setSetting(kind: "auto-claim" | "automation" | "alerts", value: Record<string, unknown>): Promise<void>;
  createPolicy(body: Record<string, unknown>): Promise<{ id: string; etag: string; body: Record<string, unknown> }>;
  /**
   * Deletes the app's policy, if there is one, then creates this one. A policy names one of three
   * apps (one policy per app): a test that wants a policy of its own (Power BI: claims at sign-in)
   * starts from none.
   */
  freshPolicy(body: Record<string, unknown> & { appId: string }): Promise<{ id: string; etag: string; body: Record<string, unknown> }>;
  postEvent(event: Record<string, unknown>, token?: string): Promise<Response>;
  /** Polls GET /sign-in-events/{id} until its status is one of `statuses` (the processor is asynchronous). */
  waitForEvent(eventId: string, statuses?: string[], timeoutMs?: number): Promise<Record<string, unknown>>;
  getEvent(eventId: string): Promise<Record<string, unknown> | undefined>;
  /** Adds fresh member users (usage location NL, no licenses) to the sim and returns their ids. */
  addUsers(n: number, overrides?: Record<string, unknown>): Promise<string[]>;
  /** Sets a product's available units in the sim, and forgets the app's counters for it (they start again from Graph). */
  setAvailable(skuId: string, available: number): Promise<void>;
  userLicenses(userId: string): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startAutoClaimStack(appSettings: Record<string, string> = {}, simCloudEnv: Record<string, string> = {}): Promise<AutoClaimStack> {
  const stack = await startTestStack({
    // Tests change products' units between claims: no "exhausted" memo may outlive a change.
    appSettings: { AUTOCLAIM_PAUSE_RECHECK_SECONDS: "1", AUTOCLAIM_BATCH_LINGER_MS: "5", AUTOCLAIM_EXHAUSTED_MEMO_MS: "0", AUTOCLAIM_EMPTY_REFRESH_MS: "0", ...appSettings },
    simCloudEnv: { SIM_CLOUD_RATE_LIMITS: "off", ...simCloudEnv },
  });
  for (const product of EXTRA_BI_PRODUCTS) {
    const res = await fetch(`${stack.simCloudUrl}/_admin/skus`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(product) });
    if (res.status !== 201) throw new Error(`adding ${product.skuPartNumber} to the simulated tenant: ${res.status} ${await res.text()}`);
  }
  const admin = await stack.token({ tenantId: TENANT, roles: ["Global Administrator"] });
  const relay = await stack.token({ tenantId: TENANT, appRoles: ["SignInEvents.Send"], appId: RELAY_APP_ID });
  const onboard = await stack.call(`/api/tenants/${TENANT}`, { method: "PUT", token: admin, body: JSON.stringify({ displayName: "Contoso (simulated)" }) });
  if (onboard.status !== 200 && onboard.status !== 201) throw new Error(`onboarding failed: ${onboard.status} ${await onboard.text()}`);

  const sim: AutoClaimStack["sim"] = async (path, init = {}) => {
    const res = await fetch(`${stack.simCloudUrl}/_admin${path}`, {
      method: init.method ?? "GET",
      headers: init.body !== undefined ? { "Content-Type": "application/json" } : {},
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`sim ${init.method ?? "GET"} ${path}: ${res.status} ${text}`);
    return text ? (JSON.parse(text) as unknown) : undefined;
  };

  const setSetting: AutoClaimStack["setSetting"] = async (kind, value) => {
    const path = `/api/tenants/${TENANT}/settings/${kind}`;
    const etag = (await stack.call(path, { token: admin })).headers.get("etag") ?? "*";
    const res = await stack.call(path, { method: "PUT", token: admin, body: JSON.stringify(value), headers: { "If-Match": etag } });
    expect(res.status, await res.clone().text()).toBe(200);
  };

  const createPolicy: AutoClaimStack["createPolicy"] = async (body) => {
    const res = await stack.call(`/api/tenants/${TENANT}/auto-claim-policies`, { method: "POST", token: admin, body: JSON.stringify(body) });
    const json = (await res.json()) as Record<string, unknown>;
    expect(res.status, JSON.stringify(json)).toBe(201);
    return { id: String(json.id), etag: res.headers.get("etag") ?? "", body: json };
  };

  const freshPolicy: AutoClaimStack["freshPolicy"] = async (body) => {
    const base = `/api/tenants/${TENANT}/auto-claim-policies`;
    const list = await stack.call(`${base}?limit=200`, { token: admin });
    expect(list.status).toBe(200);
    const { items } = (await list.json()) as { items: { id: string; appId: string }[] };
    for (const p of items.filter((i) => i.appId === body.appId.toLowerCase())) {
      const etag = (await stack.call(`${base}/${p.id}`, { token: admin })).headers.get("etag") ?? "";
      const res = await stack.call(`${base}/${p.id}`, { method: "DELETE", token: admin, headers: { "If-Match": etag } });
      expect(res.status, await res.clone().text()).toBe(204);
    }
    return createPolicy(body);
  };

  const postEvent: AutoClaimStack["postEvent"] = (event, token = relay) =>
    stack.call(`/api/tenants/${TENANT}/sign-in-events`, { method: "POST", token, body: JSON.stringify(event) });

  const getEvent: AutoClaimStack["getEvent"] = async (eventId) => {
    const res = await stack.call(`/api/tenants/${TENANT}/sign-in-events/${eventId}`, { token: admin });
    if (res.status === 404) return undefined;
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  };

  const waitForEvent: AutoClaimStack["waitForEvent"] = async (eventId, statuses = ["claimed", "skipped", "failed", "forwarded"], timeoutMs = 45_000) => {
    const until = Date.now() + timeoutMs;
    let last: Record<string, unknown> | undefined;
    while (Date.now() < until) {
      last = await getEvent(eventId);
      if (last && statuses.includes(String(last.status))) return last;
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`event ${eventId} did not reach ${statuses.join("/")} within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
  };

  const addUsers: AutoClaimStack["addUsers"] = async (n, overrides = {}) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = randomUUID();
      await sim("/users", {
        method: "POST",
        body: { id, userPrincipalName: `test.${id.slice(0, 8)}@contoso-sim.onmicrosoft.com`, displayName: `Test ${id.slice(0, 8)}`, usageLocation: "NL", ...overrides },
      });
      ids.push(id);
    }
    return ids;
  };

  const setAvailable: AutoClaimStack["setAvailable"] = async (skuId, available) => {
    const summary = (await sim("/summary")) as { skus: { skuId: string; consumedUnits: number }[] };
    const consumed = summary.skus.find((s) => s.skuId === skuId)?.consumedUnits ?? 0;
    await sim(`/skus/${skuId}`, { method: "PATCH", body: { prepaidUnits: { enabled: consumed + available, warning: 0 } } });
    const container = stack.database.container("autoclaim");
    const { resources } = await container.items
      .query<{ id: string }>({ query: "SELECT c.id FROM c WHERE c.type = 'sku-counter' AND c.skuId = @s", parameters: [{ name: "@s", value: skuId }] })
      .fetchAll();
    for (const r of resources) await container.item(r.id, TENANT).delete();
  };

  const userLicenses: AutoClaimStack["userLicenses"] = async (userId) => {
    const user = (await sim(`/users/${userId}`)) as { assignedLicenses?: { skuId: string }[]; licenses?: { skuId: string }[] };
    return (user.assignedLicenses ?? user.licenses ?? []).map((l) => l.skuId.toLowerCase());
  };

  return { stack, admin, relay, sim, setSetting, createPolicy, freshPolicy, postEvent, waitForEvent, getEvent, addUsers, setAvailable, userLicenses, stop: () => stack.stop() };
}

export function signInEvent(userId: string, appId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { eventId: `ev-${randomUUID()}`, userId, appId, trigger: "sign-in", occurredAt: new Date().toISOString(), ...extra };
}

export { LOCAL_ENTRA_EXTENSION_AUDIENCE };

/** Faults the simulated Graph has injected since its counters were last reset. */
export async function graphFaultsInjected(s: AutoClaimStack): Promise<number> {
  return ((await s.sim("/counters")) as { graph: { injectedFaults: number } }).graph.injectedFaults;
}

/** Polls `check` until it holds (a queue retry's delay is the host's, not the test's), or fails naming `what`. */
export async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
