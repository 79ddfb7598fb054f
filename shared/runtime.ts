import type { Container, Database } from "@azure/cosmos";
import { DefaultAzureCredential } from "@azure/identity";
import { QueueServiceClient } from "@azure/storage-queue";
import { getConfig, type AppConfig } from "./config/config.js";
import { createTokenValidator, type TokenValidator } from "./auth/token-validator.js";
import type { AuthDependencies } from "./http/endpoint.js";
import type { DependencyCheck } from "./platform/health.js";
import { EVENTS_QUEUE, SYNC_JOBS_QUEUE } from "./events/queues.js";
import { ensureDatabaseAndContainers } from "./storage/bootstrap.js";
import { configureCosmos, getCosmosClient } from "./storage/cosmos.js";
import type { ContainerName } from "./storage/containers.js";
import { createQueueSender } from "./queue/create-sender.js";
import { CosmosFailureStore, type FailureStore } from "./queue/failure-store.js";
import type { QueueSender } from "./queue/transport.js";
import { AuditLog } from "./audit/audit-log.js";
import { TenantSettings } from "./settings/tenant-settings.js";
import { TenantRegistry } from "./tenants/tenant-registry.js";
import { credentialProvider } from "./clients/credentials.js";
import { budgetOf, createGraphClient, type GraphMode } from "./clients/graph.js";
import type { Client as GraphClient } from "@microsoft/microsoft-graph-client";
import type { TokenCredential } from "@azure/identity";

/**
 * The composition root: every client is created once per process from the configuration and
 * handed to the use-cases. Tests point the configuration at local services; the code path is the same.
 */
export interface Runtime {
  config: AppConfig;
  database: Database;
  container(name: ContainerName): Container;
  tenants: TenantRegistry;
  /** Per-tenant settings (auto-claim switch, pause switch), ETag-versioned. */
  settings: TenantSettings;
  /** The hash-chained audit trail (P9, L16). */
  audit: AuditLog;
  validateToken: TokenValidator;
  /** The event queue (sign-in events, first access, sync jobs), on the configured transport. */
  eventQueue: QueueSender;
  /** The sync's job queue (directory cycles, environment runs), on the same transport. */
  syncQueue: QueueSender;
  failures: FailureStore;
  /** Tokens for Microsoft APIs in a customer tenant (managed identity / federated app / local secret). */
  credential(tenantId: string): TokenCredential;
  /** A Graph client for a tenant: interactive budget by default, background for timers and queues. */
  graph(tenantId: string, mode?: GraphMode): GraphClient;
}

let runtime: Promise<Runtime> | undefined;

export function getRuntime(): Promise<Runtime> {
  runtime ??= build().catch((err: unknown) => {
    runtime = undefined; // a dependency that was down at start may be back on the next call
    throw err;
  });
  return runtime;
}

/** The app's own identity (user-assigned when MANAGED_IDENTITY_CLIENT_ID is set). */
function azureCredential(config: AppConfig): DefaultAzureCredential {
  return new DefaultAzureCredential(config.MANAGED_IDENTITY_CLIENT_ID ? { managedIdentityClientId: config.MANAGED_IDENTITY_CLIENT_ID } : {});
}

let cosmosConfigured = false;
function connectCosmos(config: AppConfig): void {
  if (cosmosConfigured) return;
  cosmosConfigured = true;
  configureCosmos({
    endpoint: config.COSMOS_ENDPOINT,
    ...(config.COSMOS_KEY ? { key: config.COSMOS_KEY } : { credential: azureCredential(config) }),
    requestTimeoutMs: 10_000,
  });
}

/** A sender for one of the app's queues, on the configured transport (events and sync jobs share the connection). */
function queueSender(config: AppConfig, queueName: string): QueueSender {
  return config.EVENT_QUEUE_TRANSPORT === "servicebus"
    ? createQueueSender({
        transport: "service-bus",
        queueName,
        connection: { fullyQualifiedNamespace: config.EventServiceBus__fullyQualifiedNamespace ?? "" },
      })
    : createQueueSender({
        transport: "storage-queue",
        queueName,
        connection: config.EventQueueStorage
          ? { connectionString: config.EventQueueStorage }
          : { queueServiceUri: config.EventQueueStorage__queueServiceUri ?? "", credential: azureCredential(config) },
      });
}

async function build(): Promise<Runtime> {
  const config = getConfig();
  connectCosmos(config);
  const client = getCosmosClient();
  const database = config.COSMOS_BOOTSTRAP
    ? await ensureDatabaseAndContainers(client, config.COSMOS_DATABASE)
    : client.database(config.COSMOS_DATABASE);
  const container = (name: ContainerName) => database.container(name);
  const audit = new AuditLog(container("audit"));
  const eventQueue = queueSender(config, EVENTS_QUEUE);
  const syncQueue = queueSender(config, SYNC_JOBS_QUEUE);
  const credential = credentialProvider(config);
  const graphClients = new Map<string, GraphClient>();
  const graph = (tenantId: string, mode: GraphMode = "interactive") => {
    const key = `${tenantId}|${mode}`;
    let client = graphClients.get(key);
    if (!client) {
      client = createGraphClient({
        baseUrl: config.GRAPH_BASE_URL,
        credential: credential(tenantId),
        budget: budgetOf(mode),
        background: mode !== "interactive",
      });
      graphClients.set(key, client);
    }
    return client;
  };
  return {
    config,
    credential,
    graph,
    database,
    container,
    audit,
    settings: new TenantSettings(container("settings")),
    tenants: new TenantRegistry(container("tenants"), audit),
    validateToken: createTokenValidator({ authorityHost: config.ENTRA_AUTHORITY_HOST, audiences: config.AUTH_AUDIENCES }),
    eventQueue,
    syncQueue,
    failures: new CosmosFailureStore(container("failures")),
  };
}

/** What every authenticated endpoint needs (see shared/http/endpoint.ts). */
export async function authDependencies(): Promise<AuthDependencies> {
  const rt = await getRuntime();
  return { validateToken: rt.validateToken, isTenantOnboarded: (t) => rt.tenants.isOnboarded(t) };
}

/**
 * Health checks that do not need the runtime to have been built (so a dependency that was down at
 * start-up is reported, not hidden behind a failed start).
 */
export function dependencyChecks(): Record<string, DependencyCheck> {
  const config = getConfig();
  connectCosmos(config);
  const checks: Record<string, DependencyCheck> = {
    // Locally the database is created on first use, so the check goes through the runtime there.
    cosmos: config.COSMOS_BOOTSTRAP
      ? () => getRuntime().then((rt) => rt.database.read())
      : () => getCosmosClient().database(config.COSMOS_DATABASE).read(),
  };
  if (config.EventQueueStorage || config.EventQueueStorage__queueServiceUri) {
    storageClient ??= config.EventQueueStorage
      ? QueueServiceClient.fromConnectionString(config.EventQueueStorage, { retryOptions: { maxTries: 1, tryTimeoutInMs: 3000 } })
      : new QueueServiceClient(config.EventQueueStorage__queueServiceUri ?? "", azureCredential(config), {
          retryOptions: { maxTries: 1, tryTimeoutInMs: 3000 },
        });
    // The event queue itself: what the app needs, and readable with a queue data role alone.
    const queue = storageClient.getQueueClient(EVENTS_QUEUE);
    checks.storage = () => queue.getProperties();
  }
  return checks;
}
let storageClient: QueueServiceClient | undefined;
