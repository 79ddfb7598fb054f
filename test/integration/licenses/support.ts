import { ClientSecretCredential } from "@azure/identity";
import { AuditLog } from "../../../shared/audit/audit-log.js";
import type { DirectoryRole } from "../../../shared/auth/roles.js";
import { budgetOf, createGraphClient, type GraphMode } from "../../../shared/clients/graph.js";
import { LicenseAssignments } from "../../../shared/licenses/assign.js";
import { CatalogService } from "../../../shared/licenses/catalog.js";
import { LicensingGraph } from "../../../shared/licenses/graph-licensing.js";
import { LicenseRulesStore } from "../../../shared/licenses/rules.js";
import { UserChangeLocks } from "../../../shared/licenses/user-locks.js";
import { forgetRecentLicenseWrites } from "../../support/license-locks.js";
import { DEMO_TENANT_ID } from "../../../local/sim-cloud/demo-tenant.js";
import type { StackOptions } from "../../../local/stack.js";
import { startTestStack, type TestStack } from "../../support/stack.js";

/**
 * One local stack per test file (Azurite, Cosmos-compatible server, simulated cloud, Functions
 * host running functions/index.ts) with the demo tenant onboarded: the app's Graph calls go to the
 * simulated cloud, whose only tenant is the demo tenant.
 */
export interface LicenseStack {
  stack: TestStack;
  tenantId: string;
  /** fetch /api/tenants/{demo}/<path> as an admin with these roles (default License Administrator). */
  api(path: string, init?: { method?: string; body?: unknown; roles?: DirectoryRole[]; headers?: Record<string, string> }): Promise<Response>;
  /** The simulated cloud's test-control API. */
  sim<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /** Back to the demo fixture, counters and faults cleared. */
  resetSim(): Promise<void>;
  graphCounters(): Promise<GraphCounters>;
  stop(): Promise<void>;
}

export interface GraphCounters {
  requests: number;
  byKind: Record<string, number>;
  batchItemsByKind: Record<string, number>;
  byStatus: Record<string, number>;
}

export async function startLicenseStack(options: Partial<StackOptions> = {}): Promise<LicenseStack> {
  const stack = await startTestStack(options);
  const tenantId = DEMO_TENANT_ID;
  const tokens = new Map<string, Promise<string>>();
  const tokenFor = (roles: DirectoryRole[]) => {
    const key = roles.join(",");
    let t = tokens.get(key);
    if (!t) {
      t = stack.token({ tenantId, roles });
      tokens.set(key, t);
    }
    return t;
  };
  const onboard = await stack.call(`/api/tenants/${tenantId}`, {
    method: "PUT",
    token: await tokenFor(["Global Administrator"]),
    body: JSON.stringify({ displayName: "Contoso (simulated)" }),
  });
  if (onboard.status !== 201 && onboard.status !== 200) throw new Error(`onboarding the demo tenant failed: ${onboard.status}`);

  const api: LicenseStack["api"] = async (path, init = {}) =>
    stack.call(`/api/tenants/${tenantId}/${path.replace(/^\//, "")}`, {
      method: init.method ?? "GET",
      token: await tokenFor(init.roles ?? ["License Administrator"]),
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      headers: init.headers ?? {},
    });
  const sim: LicenseStack["sim"] = async <T>(method: string, path: string, body?: unknown) => {
    const res = await fetch(`${stack.simCloudUrl}/_admin/${path.replace(/^\//, "")}`, {
      method,
      headers: { "content-type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`sim ${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  return {
    stack,
    tenantId,
    api,
    sim,
    resetSim: async () => {
      await sim("POST", "reset", {});
      // The reset directory is another world: what changes wrote to the old one no longer counts (Graph's read lag).
      await forgetRecentLicenseWrites(stack.database);
      await sim("PATCH", "settings", { faults: [], latencyMs: { graph: 0 }, rateLimits: { graph: { enabled: true, writesPerWindow: 3000, writeWindowSeconds: 150 } } });
    },
    graphCounters: async () => (await sim<{ graph: GraphCounters }>("GET", "counters")).graph,
    stop: () => stack.stop(),
  };
}

/** The app's license services built in the test process against the stack (for an injectable clock, or as a second instance of the app). */
export function inProcessLicensing(s: LicenseStack) {
  const settings = s.stack.appSettings;
  const credential = new ClientSecretCredential(s.tenantId, settings.MS_API_CLIENT_ID!, settings.MS_API_CLIENT_SECRET!, {
    authorityHost: settings.ENTRA_AUTHORITY_HOST!,
    disableInstanceDiscovery: true,
  });
  const graph = (_tenantId: string, mode: GraphMode = "interactive") =>
    new LicensingGraph(createGraphClient({ baseUrl: settings.GRAPH_BASE_URL!, credential, budget: budgetOf(mode) }), { budget: budgetOf(mode) });
  const audit = new AuditLog(s.stack.database.container("audit"));
  const catalog = new CatalogService({ graph: (t) => graph(t), snapshots: s.stack.database.container("catalog") });
  const rules = new LicenseRulesStore(s.stack.database.container("settings"), audit);
  // Its own locks object: this process stands for another instance of the app than the host.
  const locks = new UserChangeLocks(s.stack.database.container("leases"));
  const assignments = new LicenseAssignments({ catalog, rules, audit, graph, locks });
  return { graph, audit, catalog, rules, assignments };
}

export interface AuditDoc {
  id: string;
  seq: number;
  tenantId: string;
  partitionKey: string;
  action: string;
  phase?: string;
  intentId?: string;
  outcome?: string;
  reason?: string;
  actor: { type: string; id: string };
  target?: { type: string; id: string };
  before?: unknown;
  after?: unknown;
  context?: { userIds?: string[] } & Record<string, unknown>;
  at: string;
}

/** The audit records naming a user, oldest first. */
export async function auditOf(s: LicenseStack, userId: string): Promise<AuditDoc[]> {
  const { resources } = await s.stack.database
    .container("audit")
    .items.query<AuditDoc>({
      query: "SELECT * FROM c WHERE c.tenantId = @t AND c.type = 'audit' AND ARRAY_CONTAINS(c.context.userIds, @u) ORDER BY c.seq",
      parameters: [{ name: "@t", value: s.tenantId }, { name: "@u", value: userId }],
    })
    .fetchAll();
  return resources;
}
