import { afterAll, beforeAll, beforeEach, expect } from "vitest";
import { DEMO_TENANT_ID } from "../../../local/sim-cloud/demo-tenant.js";
import { startTestStack, type TestStack } from "../../support/stack.js";
import type { StackOptions } from "../../../local/stack.js";

/**
 * The stack for the sync tests: the simulated cloud's demo tenant onboarded, the sync timer far
 * away (tests start cycles themselves through the host's admin endpoint), short chunks and leases.
 */
export interface SyncStack extends TestStack {
  tenantId: string;
  admin: string;
  /** Call the simulated cloud's test-control API. */
  sim<T = unknown>(path: string, init?: { method?: string; body?: unknown }): Promise<T>;
  env(environmentId: string, path?: string): string;
  /** PATCH this product's settings of an environment (reads the ETag first). */
  configure(environmentId: string, patch: Record<string, unknown>): Promise<Response>;
  /** Starts a run now and waits until it is done (or held for approval). */
  runNow(environmentId: string, until?: readonly string[]): Promise<RunView>;
  /** Runs the sync timer once (as the host's admin endpoint does). */
  tick(): Promise<void>;
  /** Runs the timer once and waits for the environment's next run to finish. */
  tickAndWait(environmentId: string, until?: readonly string[]): Promise<RunView>;
  waitForRun(environmentId: string, runId: string, until?: readonly string[]): Promise<RunView>;
  /** The environment's systemusers as the simulated Dataverse holds them (with role ids). */
  rows(environmentId: string): Promise<SimRow[]>;
  /** Back to the fixture: simulated cloud, and every sync document and setting of the tenant. */
  reset(): Promise<void>;
}

export interface RunView {
  id: string;
  state: string;
  full: boolean;
  counts: { read: number; added: number; updated: number; disabled: number; reEnabled: number; drift: number; skipped: number; failed: number };
  guard: { disables: number; enabledUsers: number; thresholdPercent: number; approvedAt: string | null } | null;
  failures: { userId: string; op: string; code: string; message: string }[];
  error: string | null;
  checkpoint: { directoryCycle: number | null; phase: string };
  plan: Record<string, number> | null;
  batchSize: number | null;
}

export interface SimRow {
  systemuserid: string;
  azureactivedirectoryobjectid: string | null;
  domainname: string | null;
  isdisabled: boolean;
  accessmode: number;
  applicationid: string | null;
  internalemailaddress: string | null;
  fullname: string | null;
  firstname: string | null;
  lastname: string | null;
  title: string | null;
  mobilephone: string | null;
  address1_line1: string | null;
  address1_city: string | null;
  roles: string[];
  [column: string]: unknown;
}

export const FINISHED = ["succeeded", "failed"] as const;

/** Polls `probe` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startSyncStack(options: Partial<StackOptions> = {}, tenantId = DEMO_TENANT_ID): Promise<SyncStack> {
  const stack = await startTestStack({
    ...options,
    appSettings: {
      SYNC_SCHEDULE: "0 0 0 1 1 *",
      SYNC_CHUNK_SECONDS: "20",
      SYNC_LEASE_SECONDS: "30",
      SYNC_ADDUSER_CONCURRENCY: "8",
      ...options.appSettings,
    },
  });
  const admin = await stack.token({ tenantId, roles: ["Global Administrator"] });
  const onboard = await stack.call(`/api/tenants/${tenantId}`, { method: "PUT", token: admin, body: JSON.stringify({ displayName: "Sync tests" }) });
  if (onboard.status !== 201 && onboard.status !== 200) throw new Error(`onboarding failed: ${onboard.status} ${await onboard.text()}`);

  const sim: SyncStack["sim"] = async <T>(path: string, init: { method?: string; body?: unknown } = {}) => {
    const res = await fetch(`${stack.simCloudUrl}/_admin${path}`, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: { "Content-Type": "application/json" },
      ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`sim ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  const env = (environmentId: string, path = "") => `/api/tenants/${tenantId}/environments/${environmentId}${path}`;
  const waitForRun: SyncStack["waitForRun"] = async (environmentId, runId, until = [...FINISHED, "awaiting-approval"]) => {
    const run = await eventually(async () => {
      const res = await stack.call(env(environmentId, `/sync-runs/${runId}`), { token: admin });
      const body = (await res.json()) as RunView;
      return until.includes(body.state) ? body : undefined;
    }, `run ${runId} to reach ${until.join("/")}`, 90_000);
    if ((FINISHED as readonly string[]).includes(run.state)) {
      // The environment is released right after the run is saved: wait for it, so the next step starts clean.
      await eventually(async () => {
        const res = await stack.call(env(environmentId), { token: admin });
        const body = (await res.json()) as { sync: { activeRunId: string | null } };
        return body.sync.activeRunId === runId ? undefined : true;
      }, `environment ${environmentId} to release run ${runId}`);
    }
    return run;
  };
  const latestRunId = async (environmentId: string): Promise<string | null> => {
    const res = await stack.call(env(environmentId, "/sync-runs?limit=1"), { token: admin });
    const body = (await res.json()) as { items: { id: string }[] };
    return body.items[0]?.id ?? null;
  };

  return Object.assign(stack, {
    tenantId,
    admin,
    sim,
    env,
    async configure(environmentId: string, patch: Record<string, unknown>) {
      const current = await stack.call(env(environmentId), { token: admin });
      return stack.call(env(environmentId), { method: "PATCH", token: admin, headers: { "If-Match": current.headers.get("etag") ?? "" }, body: JSON.stringify(patch) });
    },
    async runNow(environmentId: string, until?: readonly string[]) {
      const res = await stack.call(env(environmentId, "/sync-runs"), { method: "POST", token: admin });
      expect(res.status, await res.clone().text()).toBe(202);
      const { id } = (await res.json()) as { id: string };
      return waitForRun(environmentId, id, until);
    },
    async tick() {
      const res = await fetch(`${stack.hostUrl}/admin/functions/sync-timer`, { method: "POST", body: "{}" });
      expect(res.status).toBe(202);
    },
    waitForRun,
    async tickAndWait(environmentId: string, until?: readonly string[]) {
      const before = await latestRunId(environmentId);
      const res = await fetch(`${stack.hostUrl}/admin/functions/sync-timer`, { method: "POST", body: "{}" });
      expect(res.status).toBe(202);
      const runId = await eventually(async () => {
        const latest = await latestRunId(environmentId);
        return latest && latest !== before ? latest : undefined;
      }, `a new run of ${environmentId}`);
      return waitForRun(environmentId, runId, until);
    },
    async rows(environmentId: string) {
      return (await sim<{ value: SimRow[] }>(`/dataverse/${environmentId}/systemusers`)).value;
    },
    async reset() {
      await sim("/reset", { body: {} });
      await sim("/settings", { method: "PATCH", body: { faults: [], dataverse: { refuseSyncedUserDisable: true } } });
      for (const name of ["sync", "sync-chunks", "settings"]) {
        const container = stack.database.container(name);
        const { resources } = await container.items
          .query<{ id: string; partitionKey?: string; tenantId?: string; type?: string }>({
            query: "SELECT c.id, c.partitionKey, c.tenantId, c.type FROM c WHERE STARTSWITH(c.partitionKey, @t) OR (c.tenantId = @t AND (c.type = 'environment-settings' OR c.id = 'automation'))",
            parameters: [{ name: "@t", value: tenantId }],
          })
          .fetchAll();
        for (const r of resources) await container.item(r.id, name === "settings" ? r.tenantId : r.partitionKey).delete().catch(() => undefined);
      }
    },
  });
}

export function byObjectId(rows: readonly SimRow[]): Map<string, SimRow> {
  return new Map(rows.flatMap((r) => (r.azureactivedirectoryobjectid ? [[r.azureactivedirectoryobjectid, r] as [string, SimRow]] : [])));
}

/**
 * The sync stack of a test file: started before its tests, reset to the demo tenant before each
 * one, stopped after them. Use the returned stack inside tests and hooks (it exists once started).
 */
export function useSyncStack(options: Partial<StackOptions> = {}): SyncStack {
  let started: SyncStack | undefined;
  beforeAll(async () => {
    started = await startSyncStack(options);
  });
  afterAll(async () => {
    await started?.stop();
  });
  beforeEach(async () => {
    await started?.reset();
  });
  return new Proxy({} as SyncStack, {
    get(_target, key) {
      if (!started) throw new Error("The sync stack is not started yet (use it inside a test or hook).");
      return Reflect.get(started, key) as unknown;
    },
  });
}
