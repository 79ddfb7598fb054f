import type { Client } from "@microsoft/microsoft-graph-client";
import type { AuditLog } from "../audit/audit-log.js";
import { DataverseClient } from "../clients/dataverse.js";
import { BACKGROUND_BUDGET, INTERACTIVE_BUDGET, type RetryBudget } from "../clients/graph.js";
import { PowerPlatformClient } from "../clients/power-platform.js";
import type { AppConfig } from "../config/config.js";
import { EnvironmentSettingsStore } from "../environments/settings.js";
import type { Envelope } from "../queue/envelope.js";
import type { SendOptions } from "../queue/transport.js";
import { getRuntime, type Runtime } from "../runtime.js";
import { isAutomationPaused } from "../settings/automation.js";
import type { PlatformEnvironment } from "./model.js";
import { SyncStore } from "./store.js";

/** Where sync jobs go (the `sync-jobs` queue; an in-memory queue in the benchmark). */
export interface JobQueue {
  send(envelope: Envelope, options?: SendOptions): Promise<void>;
}

export interface SyncLogger {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** Everything the sync's use-cases need, built once per process from the runtime (tests and the benchmark swap parts). */
export interface SyncDeps {
  config: AppConfig;
  store: SyncStore;
  settings: EnvironmentSettingsStore;
  audit: Pick<AuditLog, "append">;
  queue: JobQueue;
  /** Graph for background work (low throttle priority, long retry budget) or for an admin's request. */
  graph(tenantId: string, mode: "background" | "interactive"): Client;
  platform(tenantId: string, mode: "background" | "interactive"): PowerPlatformClient;
  /** A Dataverse client for an environment the platform reported (its URL already checked, D15). */
  dataverse(tenantId: string, environment: PlatformEnvironment, mode: "background" | "interactive", deadline?: number): DataverseClient;
  isPaused(tenantId: string): Promise<boolean>;
  now(): Date;
}

const budgetOf = (mode: "background" | "interactive"): RetryBudget => (mode === "background" ? BACKGROUND_BUDGET : INTERACTIVE_BUDGET);

export function syncDepsFrom(rt: Runtime): SyncDeps {
  const allowLoopback = rt.config.APP_ENV === "local";
  const platforms = new Map<string, PowerPlatformClient>();
  return {
    config: rt.config,
    store: new SyncStore(rt.container("sync"), rt.container("sync-chunks")),
    settings: new EnvironmentSettingsStore(rt.container("settings")),
    audit: rt.audit,
    queue: rt.syncQueue,
    graph: (tenantId, mode) => rt.graph(tenantId, mode),
    platform: (tenantId, mode) => {
      const key = `${tenantId}|${mode}`;
      let client = platforms.get(key);
      if (!client) {
        client = new PowerPlatformClient({ baseUrl: rt.config.POWER_PLATFORM_API_URL, credential: rt.credential(tenantId), budget: budgetOf(mode), allowLoopbackDataverse: allowLoopback });
        platforms.set(key, client);
      }
      return client;
    },
    dataverse: (tenantId, environment, mode, deadline) => {
      if (!environment.dataverse) throw new Error(`Environment ${environment.id} has no Dataverse database.`);
      return new DataverseClient({
        instanceUrl: environment.dataverse.instanceUrl,
        credential: rt.credential(tenantId),
        budget: budgetOf(mode),
        ...(deadline !== undefined && { deadline }),
      });
    },
    isPaused: (tenantId) => isAutomationPaused(tenantId),
    now: () => new Date(),
  };
}

let cached: { rt: Runtime; deps: SyncDeps } | undefined;

/** The process's sync dependencies (from getRuntime()). */
export async function getSyncDeps(): Promise<SyncDeps> {
  const rt = await getRuntime();
  if (cached?.rt !== rt) cached = { rt, deps: syncDepsFrom(rt) };
  return cached.deps;
}
