import type { ClientSecretCredential } from "@azure/identity";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEMO_IDS, DEMO_TENANT_ID, demoUserId } from "../../../local/sim-cloud/demo-tenant.js";
import { DataverseClient } from "../../../shared/clients/dataverse.js";
import { BACKGROUND_BUDGET, createGraphClient, INTERACTIVE_BUDGET } from "../../../shared/clients/graph.js";
import { PowerPlatformClient } from "../../../shared/clients/power-platform.js";
import { newEnvelope } from "../../../shared/queue/envelope.js";
import type { QueueSender } from "../../../shared/queue/transport.js";
import type { SyncDeps } from "../../../shared/sync/deps.js";
import { FIRST_ACCESS_KIND, handleFirstAccess } from "../../../shared/sync/first-access.js";
import { syncOneUser } from "../../../shared/sync/one-user.js";
import { startTestSim, type TestSim } from "../sim-cloud/support.js";

/**
 * D12: a first-access event is background work from a queue, so its Graph calls carry
 * `x-ms-throttle-priority: low` (the tenant's quota is shared with every app); an admin's
 * on-demand request through the API stays interactive. The production clients run against the
 * simulated cloud, made per mode as the runtime makes them; only storage is stubbed.
 */
let t: TestSim;
let credential: ClientSecretCredential;
const P = DEMO_IDS.environments.production;
const u = demoUserId;

beforeAll(async () => {
  t = await startTestSim({ rateLimits: false });
  credential = t.credential;
});
afterAll(async () => {
  await t?.sim.close();
});
beforeEach(() => {
  t.sim.reset();
});

function deps(): SyncDeps {
  const budget = (mode: "background" | "interactive") => (mode === "background" ? BACKGROUND_BUDGET : INTERACTIVE_BUDGET);
  return {
    graph: (_tenantId: string, mode: "background" | "interactive") => createGraphClient({ baseUrl: t.sim.graphBaseUrl, credential, budget: budget(mode), background: mode === "background" }),
    platform: (_tenantId: string, mode: "background" | "interactive") => new PowerPlatformClient({ baseUrl: t.sim.bapBaseUrl, credential, budget: budget(mode), allowLoopbackDataverse: true }),
    dataverse: (_tenantId: string, env: { dataverse: { instanceUrl: string } | null }, mode: "background" | "interactive") =>
      new DataverseClient({ instanceUrl: env.dataverse?.instanceUrl ?? "", credential, budget: budget(mode) }),
    settings: { get: () => Promise.resolve({ value: { syncEnabled: true, massDisableThresholdPercent: null, defaultSecurityRoleIds: [] }, etag: "x", updatedAt: null, updatedBy: null }) },
    store: {
      readMarks: () => Promise.resolve({ drift: new Map(), locks: new Set(), pins: new Map(), failed: new Map() }),
      deleteMany: () => Promise.resolve(),
      upsertMarks: () => Promise.resolve(),
      adjustEnabledUsers: () => Promise.resolve(),
    },
    audit: { append: () => Promise.resolve() },
    isPaused: () => Promise.resolve(false),
    now: () => new Date(),
  } as unknown as SyncDeps;
}

const requeue = { send: () => Promise.reject(new Error("must not be re-sent")) } as unknown as QueueSender;

describe("D12 throttle priority of first-access work", () => {
  it("when a first-access event is handled, then every Graph call it makes carries x-ms-throttle-priority: low", async () => {
    const event = newEnvelope({ kind: FIRST_ACCESS_KIND, tenantId: DEMO_TENANT_ID, body: { userId: u(2), environmentId: P, occurredAt: new Date().toISOString() } });
    const outcome = await handleFirstAccess(deps(), event, requeue);
    expect(outcome).toMatchObject({ outcome: "applied", result: { outcome: "added" } });
    const graph = t.sim.counters().graph;
    expect(graph.requests).toBeGreaterThan(0);
    expect(graph.throttlePriority).toEqual({ low: graph.requests, other: 0 });
  });

  it("when an admin adds a user through the API (syncOneUser without a mode), then its Graph calls stay interactive", async () => {
    const d = deps();
    const env = await d.platform(DEMO_TENANT_ID, "interactive").getEnvironment(P);
    expect(env).not.toBeNull();
    t.sim.resetCounters();
    await syncOneUser(d, DEMO_TENANT_ID, env!, u(3), "add", []);
    const graph = t.sim.counters().graph;
    expect(graph.requests).toBeGreaterThan(0);
    expect(graph.throttlePriority).toEqual({ low: 0, other: graph.requests });
  });
});
