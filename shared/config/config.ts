import { z } from "zod";

/**
 * Every setting the app reads, in one schema. Names are the app-setting names used in
 * local.settings.sample.json and infra/ (a test keeps the three in step). Parsed once.
 */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);
const PUBLIC_AUTHORITIES = new Set([
  "https://login.microsoftonline.com",
  "https://login.microsoftonline.us",
  "https://login.chinacloudapi.cn",
]);

const url = z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, ""));
const csv = z
  .string()
  .min(1)
  .transform((s) => s.split(",").map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.string().min(1)).min(1));
const bool = z.enum(["true", "false"]).transform((v) => v === "true");
/** A 6-field NCRONTAB expression (seconds first), as Azure Functions timers take. */
const ncrontab = z.string().trim().regex(/^\S+(\s+\S+){5}$/, "a 6-field NCRONTAB expression, e.g. \"0 */5 * * * *\"");

export const configSchema = z
  .object({
    /** "local" only on a developer machine or in tests; enables the local token authority on loopback. */
    APP_ENV: z.enum(["azure", "local"]).default("azure"),
    COSMOS_ENDPOINT: url.describe("Cosmos DB account endpoint, e.g. https://<account>.documents.azure.com:443/"),
    /** Only for the local Cosmos-compatible server; in Azure the managed identity is used. */
    COSMOS_KEY: z.string().min(1).optional(),
    COSMOS_DATABASE: z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, "letters, digits, - and _").default("licensing"),
    /** Entra authority that issues admin and relay tokens; its JWKS is <host>/common/discovery/v2.0/keys. */
    ENTRA_AUTHORITY_HOST: url.default("https://login.microsoftonline.com"),
    /** Accepted `aud` values of incoming tokens (the API's client id and/or app id URI), comma-separated. */
    AUTH_AUDIENCES: csv,
    /** Microsoft Graph (a loopback simulated cloud only with APP_ENV=local). */
    GRAPH_BASE_URL: url.default("https://graph.microsoft.com"),
    /** Power Platform admin API (BAP). */
    POWER_PLATFORM_API_URL: url.default("https://api.bap.microsoft.com"),
    /**
     * How the app gets tokens for Graph, Dataverse and the Power Platform API:
     * managed-identity (home tenant only), federated-app (a multi-tenant app registration whose
     * credential is the managed identity, for customer tenants), client-secret (local simulated cloud only).
     */
    MS_API_AUTH: z.enum(["managed-identity", "federated-app", "client-secret"]).default("managed-identity"),
    /** Client id of the multi-tenant app registration (federated-app, client-secret). */
    MS_API_CLIENT_ID: z.guid().optional(),
    /** Local simulated cloud only. */
    MS_API_CLIENT_SECRET: z.string().min(1).optional(),
    /** Client id of the user-assigned managed identity (omit for a system-assigned one). */
    MANAGED_IDENTITY_CLIENT_ID: z.guid().optional(),
    /** Where queue messages go: Azure Storage queues (local) or Service Bus (production option). */
    EVENT_QUEUE_TRANSPORT: z.enum(["storage", "servicebus"]).default("storage"),
    /** Connection for the storage-queue trigger and sender (a connection string locally). */
    EventQueueStorage: z.string().min(1).optional(),
    EventQueueStorage__queueServiceUri: url.optional(),
    EventServiceBus__fullyQualifiedNamespace: z.string().min(1).optional(),
    /** Seconds between re-deliveries grow from this base; attempts are capped by QUEUE_MAX_ATTEMPTS. */
    QUEUE_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(8),
    /** Auto-claim (A, E): events a caller may have accepted per UTC day; past it, 429 (the events are kept and processed the next day). */
    AUTOCLAIM_DAILY_CAP_PER_CALLER: z.coerce.number().int().min(1).default(10_000),
    /** P11: seconds between looks at an event that waits for automation to resume. */
    AUTOCLAIM_PAUSE_RECHECK_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
    /** A10: minutes after which a reservation whose claim never completed is released. */
    AUTOCLAIM_RESERVATION_EXPIRY_MINUTES: z.coerce.number().int().min(1).max(1440).default(15),
    /** A10: counter shards per product, so concurrent reservations spread over several items. */
    AUTOCLAIM_COUNTER_SHARDS: z.coerce.number().int().min(1).max(64).default(8),
    /** A10: how long (ms) a product found without licenses is not asked again by this instance (a cost saving; 0 = always ask). */
    AUTOCLAIM_EXHAUSTED_MEMO_MS: z.coerce.number().int().min(0).max(60_000).default(2000),
    /**
     * A3/A10: when the counters find every product of a policy empty, they are brought in line with
     * Graph before the claim fails (licenses bought or freed since the last reconciliation serve it) -
     * at most once per this many ms per product and instance (0 = every time).
     */
    AUTOCLAIM_EMPTY_REFRESH_MS: z.coerce.number().int().min(0).max(300_000).default(10_000),
    /**
     * A10: how long the claim processor gathers claims into one license request (ms); 0 sends each at
     * once. 100 ms: at 50 claims/s, 0.34 Graph and 4.41 Cosmos requests per claim instead of 0.62 and
     * 4.86 with 40 ms, ~0.5 ms less CPU per claim, p99 ~650 instead of ~470 ms (docs/benchmarks.md);
     * Graph throttles writes per app and tenant. A burst fills its batches without waiting.
     */
    AUTOCLAIM_BATCH_LINGER_MS: z.coerce.number().int().min(0).max(1000).default(100),
    /**
     * E1-E3: how long (ms) a sign-in event waits for others arriving with it to share its write to
     * Cosmos DB (one bulk request instead of one request each); 0 groups only events that arrive
     * while a write is in flight.
     */
    EVENT_STORE_LINGER_MS: z.coerce.number().int().min(0).max(200).default(20),
    /** A13: return a claimed license after this many days without use; 0 (default) = off. */
    AUTOCLAIM_RECLAIM_AFTER_DAYS: z.coerce.number().int().min(0).max(3650).default(0),
    /** NCRONTAB of reservation expiry and counter reconciliation with subscribedSkus. */
    AUTOCLAIM_MAINTENANCE_SCHEDULE: ncrontab.default("0 */5 * * * *"),
    /** NCRONTAB of A13 reclamation (it does nothing while AUTOCLAIM_RECLAIM_AFTER_DAYS is 0). */
    AUTOCLAIM_RECLAIM_SCHEDULE: ncrontab.default("0 30 3 * * *"),
    /** NCRONTAB of the L18 scan for group-based licensing errors (L20) in tenants whose alerts are on. */
    GROUP_LICENSING_CHECK_SCHEDULE: ncrontab.default("0 15 */6 * * *"),
    /** E2: read Entra sign-in logs (needs Entra ID P1 and AuditLog.Read.All); off by default. */
    SIGNIN_POLL_ENABLED: bool.default(false),
    /** NCRONTAB of the E2 sign-in log poller. */
    SIGNIN_POLL_SCHEDULE: ncrontab.default("0 */5 * * * *"),
    /** E1: accepted `aud` of the tokens Entra's custom authentication extension sends (the extension's app registration); unset = E1 refuses every call. */
    ENTRA_EXTENSION_AUDIENCES: csv.optional(),
    /** E1: the documented caller application of custom authentication extensions (azp / appid). */
    ENTRA_EXTENSION_CALLER_APP_ID: z.guid().default("99045fe1-7639-4a75-9d4a-577b6ca3810f"),
    /**
     * E1: how long the endpoint waits (for its services on a cold start, the token check, storing and
     * queuing the event) before it answers "continue" anyway (ms). At most 450: E1 answers within 500 ms.
     */
    ENTRA_EXTENSION_DEADLINE_MS: z.coerce.number().int().min(20).max(450).default(300),
    /** D1: NCRONTAB of the Entra -> Dataverse sync timer (the local host and Azure resolve %SYNC_SCHEDULE%). */
    SYNC_SCHEDULE: ncrontab.default("0 */5 * * * *"),
    /** D1/D12: seconds of work per sync queue message before it checkpoints and continues in a new message (no message is held past 5 minutes). */
    SYNC_CHUNK_SECONDS: z.coerce.number().int().min(1).max(240).default(120),
    /** D12: seconds a sync worker's lease lasts without a checkpoint; a run whose lease ran out is resumed by the next cycle. */
    SYNC_LEASE_SECONDS: z.coerce.number().int().min(5).max(1800).default(300),
    /**
     * D13: how long an approved run waits for a directory read begun after its approval (seconds). Past
     * it the run fails with nothing of the held disables made: a directory that cannot be read is not
     * judged on an old read.
     */
    SYNC_APPROVAL_READ_TIMEOUT_SECONDS: z.coerce.number().int().min(10).max(24 * 3600).default(1800),
    /** D1/D10: hours between full reconciles of an environment (every record compared, drift found); incremental runs in between. */
    SYNC_RECONCILE_HOURS: z.coerce.number().min(0.01).max(24 * 30).default(24),
    /** D12: the largest Dataverse $batch the sync sends (the size is tuned below it from the observed execution time). */
    SYNC_DATAVERSE_BATCH_MAX: z.coerce.number().int().min(1).max(1000).default(1000),
    /** D12: the Dataverse $batch duration the tuning aims for (ms). */
    SYNC_DATAVERSE_BATCH_TARGET_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
    /**
     * Sync work holding a whole tenant in memory that a process runs at once: full plans (every user of
     * the tenant and every record of the environment, ~400 MB at 100,000 users) and the directory
     * cycle's fold of a full read; more wait in the queue (shared/sync/tenant-sized.ts).
     */
    SYNC_TENANT_SIZED_JOBS_PER_PROCESS: z.coerce.number().int().min(1).max(16).default(1),
    /**
     * D12: addUser calls in flight per environment. They share one HTTP/2 connection, so calls made
     * together leave in one write; a 429 stops new calls and the window waits its Retry-After.
     */
    SYNC_ADDUSER_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(16),
    /** D13: default mass-disable guard, in percent of an environment's enabled users (each environment can set its own). */
    SYNC_MASS_DISABLE_PERCENT: z.coerce.number().min(0).max(100).default(10),
    /** Create database and containers at start (local runs and tests only; Azure uses infra). */
    COSMOS_BOOTSTRAP: bool.default(false),
    /** Set by App Service / Functions in Azure; used to refuse local-only settings there. */
    WEBSITE_SITE_NAME: z.string().optional(),
    WEBSITE_INSTANCE_ID: z.string().optional(),
  })
  .superRefine((c, ctx) => {
    const inAzure = Boolean(c.WEBSITE_SITE_NAME ?? c.WEBSITE_INSTANCE_ID);
    if (c.APP_ENV === "local" && inAzure) {
      ctx.addIssue({ code: "custom", path: ["APP_ENV"], message: "must not be \"local\" when running in Azure" });
    }
    if (!PUBLIC_AUTHORITIES.has(c.ENTRA_AUTHORITY_HOST)) {
      const host = new URL(c.ENTRA_AUTHORITY_HOST).hostname;
      const local = c.APP_ENV === "local" && !inAzure && (LOOPBACK_HOSTS.has(host) || host === "::1");
      if (!local) {
        ctx.addIssue({
          code: "custom",
          path: ["ENTRA_AUTHORITY_HOST"],
          message: `must be a Microsoft Entra authority (${[...PUBLIC_AUTHORITIES].join(", ")}); a loopback authority is accepted only with APP_ENV=local outside Azure`,
        });
      }
    }
    for (const key of ["GRAPH_BASE_URL", "POWER_PLATFORM_API_URL"] as const) {
      const host = new URL(c[key]).hostname;
      const loopback = LOOPBACK_HOSTS.has(host) || host === "::1";
      if (loopback && (c.APP_ENV !== "local" || inAzure)) {
        ctx.addIssue({ code: "custom", path: [key], message: "a loopback URL is accepted only with APP_ENV=local outside Azure" });
      }
      if (!loopback && new URL(c[key]).protocol !== "https:") {
        ctx.addIssue({ code: "custom", path: [key], message: "must be https" });
      }
    }
    if (c.MS_API_AUTH !== "managed-identity" && !c.MS_API_CLIENT_ID) {
      ctx.addIssue({ code: "custom", path: ["MS_API_CLIENT_ID"], message: `is required when MS_API_AUTH=${c.MS_API_AUTH}` });
    }
    if (c.MS_API_AUTH === "client-secret" && (c.APP_ENV !== "local" || !c.MS_API_CLIENT_SECRET)) {
      ctx.addIssue({ code: "custom", path: ["MS_API_AUTH"], message: "client-secret is only for the local simulated cloud (APP_ENV=local, with MS_API_CLIENT_SECRET)" });
    }
    if (c.MS_API_CLIENT_SECRET && c.APP_ENV !== "local") {
      ctx.addIssue({ code: "custom", path: ["MS_API_CLIENT_SECRET"], message: "is only accepted with APP_ENV=local" });
    }
    if (c.COSMOS_KEY && c.APP_ENV !== "local") {
      ctx.addIssue({ code: "custom", path: ["COSMOS_KEY"], message: "is only accepted with APP_ENV=local; in Azure the managed identity is used" });
    }
    if (c.COSMOS_BOOTSTRAP && c.APP_ENV !== "local") {
      ctx.addIssue({ code: "custom", path: ["COSMOS_BOOTSTRAP"], message: "is only accepted with APP_ENV=local; in Azure containers come from infra" });
    }
    if (c.EVENT_QUEUE_TRANSPORT === "storage" && !c.EventQueueStorage && !c.EventQueueStorage__queueServiceUri) {
      ctx.addIssue({ code: "custom", path: ["EventQueueStorage"], message: "a connection string (or EventQueueStorage__queueServiceUri) is required when EVENT_QUEUE_TRANSPORT=storage" });
    }
    if (c.EVENT_QUEUE_TRANSPORT === "servicebus" && !c.EventServiceBus__fullyQualifiedNamespace) {
      ctx.addIssue({ code: "custom", path: ["EventServiceBus__fullyQualifiedNamespace"], message: "is required when EVENT_QUEUE_TRANSPORT=servicebus" });
    }
  });

export type AppConfig = z.output<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: { key: string; expected: string }[]) {
    super(
      "Invalid configuration - the app cannot start:\n" +
        problems.map((p) => `  - ${p.key}: ${p.expected}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** Parses an environment (process.env by default); throws ConfigError naming every bad key. */
export function parseConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const result = configSchema.safeParse(present);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((i) => ({
      key: i.path.length ? i.path.join(".") : "(config)",
      expected: i.code === "invalid_type" && i.input === undefined ? "is required but not set" : i.message,
    })),
  );
}

let cached: AppConfig | undefined;

/** The process's configuration, parsed on first use. */
export function getConfig(): AppConfig {
  cached ??= parseConfig();
  return cached;
}

/** Tests only: forget the parsed configuration. */
export function resetConfigForTests(): void {
  cached = undefined;
}

/** Names of every setting the schema knows (used to keep local.settings.sample.json and infra in step). */
export const CONFIG_KEYS: string[] = Object.keys(configSchema.shape);
