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
    MS_API_CLIENT_ID: z.uuid().optional(),
    /** Local simulated cloud only. */
    MS_API_CLIENT_SECRET: z.string().min(1).optional(),
    /** Client id of the user-assigned managed identity (omit for a system-assigned one). */
    MANAGED_IDENTITY_CLIENT_ID: z.uuid().optional(),
    /** Where queue messages go: Azure Storage queues (local) or Service Bus (production option). */
    EVENT_QUEUE_TRANSPORT: z.enum(["storage", "servicebus"]).default("storage"),
    /** Connection for the storage-queue trigger and sender (a connection string locally). */
    EventQueueStorage: z.string().min(1).optional(),
    EventQueueStorage__queueServiceUri: url.optional(),
    EventServiceBus__fullyQualifiedNamespace: z.string().min(1).optional(),
    /** Seconds between re-deliveries grow from this base; attempts are capped by QUEUE_MAX_ATTEMPTS. */
    QUEUE_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(8),
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
