import { z } from "zod";

/** Runtime-adjustable behaviour of the simulated cloud (start options and PATCH /_admin/settings). */

export const SERVICES = ["graph", "dataverse", "bap", "login"] as const;
export type ServiceName = (typeof SERVICES)[number];

export const FaultRuleSchema = z.object({
  /** Which services the rule applies to (default: graph, dataverse and bap). */
  services: z.array(z.enum(SERVICES)).optional(),
  /** Regular expression tested against the path after the service prefix, e.g. "^/v1.0/users/delta". */
  pathPattern: z.string().optional(),
  /** Share of requests (0..1) answered 429 with Retry-After. */
  rate429: z.number().min(0).max(1).default(0),
  /** Share answered 503 Service Unavailable. */
  rate503: z.number().min(0).max(1).default(0),
  /** Share answered 500 with the service's error body (a server error that carries no Retry-After). */
  rate500: z.number().min(0).max(1).default(0),
  /** Share answered 200 with a JSON body that is not the contract's shape (`{"unexpected": …}`). */
  rateMalformed: z.number().min(0).max(1).default(0),
  /** Share that hang for hangMs and then have their connection reset. */
  rateTimeout: z.number().min(0).max(1).default(0),
  retryAfterSeconds: z.number().int().min(0).default(2),
  hangMs: z.number().int().min(0).default(5000),
  /**
   * Dataverse only. false (default): the rule covers whole requests, never the operations inside
   * a $batch. true: it covers only the operations inside a $batch - each one whose path
   * (`/{environmentId}/api/data/v9.2/<resource>`, the form a single request's path has, so one
   * pathPattern fits both) matches draws on its own, and a throttled one is answered in its own
   * part as Dataverse does: 429 with `Retry-After` (and the service-protection error body), or
   * 503; the other operations run. Inside a change set the failure fails the change set (rolled
   * back, one answer part). rateTimeout does not apply to operations.
   */
  inBatch: z.boolean().default(false),
  /**
   * At most this many faults from this rule, counted from the last time settings were applied
   * (or the cloud reset); then the rule is spent. With a rate of 1, exactly the first `count`
   * requests (or operations) the rule covers fail. Unset: no limit.
   */
  count: z.number().int().min(0).optional(),
});
export type FaultRule = z.output<typeof FaultRuleSchema>;

const GraphLimitsSchema = z.object({
  enabled: z.boolean(),
  /** Resource units per window per app and tenant; null = by tenant size (3,500 / 5,000 / 8,000 for <50 / 50-500 / >500 users). */
  unitsPerWindow: z.number().int().positive().nullable(),
  windowSeconds: z.number().positive(),
  /** Writes (POST/PATCH/DELETE) per write window per app and tenant. */
  writesPerWindow: z.number().int().positive(),
  writeWindowSeconds: z.number().positive(),
});

const DataverseLimitsSchema = z.object({
  enabled: z.boolean(),
  /** Requests per window per caller (a $batch counts once). */
  requestsPerWindow: z.number().int().positive(),
  windowSeconds: z.number().positive(),
  /** Combined simulated execution time per window per caller. */
  executionMsPerWindow: z.number().int().positive(),
  /** Concurrent requests per caller before 429. */
  maxConcurrent: z.number().int().positive(),
  /** Simulated cost of one read operation (no real sleep). */
  msPerRead: z.number().min(0),
  /** Simulated cost of one write operation (no real sleep). */
  msPerWrite: z.number().min(0),
  /** Value of the x-ms-dop-hint response header. */
  dopHint: z.number().int().positive(),
});

const BapLimitsSchema = z.object({
  enabled: z.boolean(),
  requestsPerWindow: z.number().int().positive(),
  windowSeconds: z.number().positive(),
});

export const SettingsSchema = z.object({
  /** Added latency per request in ms, per service. */
  latencyMs: z.object({ graph: z.number().min(0), dataverse: z.number().min(0), bap: z.number().min(0), login: z.number().min(0) }),
  faults: z.array(FaultRuleSchema),
  seed: z.number().int(),
  rateLimits: z.object({ graph: GraphLimitsSchema, dataverse: DataverseLimitsSchema, bap: BapLimitsSchema }),
  graph: z.object({
    /** Entries per users/delta page (Graph sizes delta pages itself; $top is ignored there). */
    deltaPageSize: z.number().int().positive(),
    /** Groups per groups/delta page, and member references per page. */
    groupDeltaPageSize: z.number().int().positive(),
    groupDeltaMembersPerPage: z.number().int().positive(),
    /** Start every delta round with an empty page that only has a nextLink (as Graph sometimes does). */
    deltaEmptyFirstPage: z.boolean(),
    /** How long a deltaLink stays valid (Graph: 7 days for directory objects). */
    deltaTokenTtlSeconds: z.number().int().positive(),
    /** How long reads of a user (assignedLicenses) lag an assignLicense (replication; 0: reads show it at once). */
    licenseReadLagMs: z.number().int().min(0),
  }),
  dataverse: z.object({
    /** Refuse PATCH of isdisabled on users synced from Entra (Microsoft-hosted Dataverse manages it). */
    refuseSyncedUserDisable: z.boolean(),
    /** Require the caller to have a systemuser (application user) in the environment, else 403. */
    requireCallerUser: z.boolean(),
  }),
  /** Token lifetime of the token endpoint, in seconds. */
  tokenLifetimeSeconds: z.number().int().positive(),
  /** Check the token audience per service (Graph, each Dataverse URL, BAP). */
  checkAudience: z.boolean(),
});
export type SimSettings = z.output<typeof SettingsSchema>;

export function defaultSettings(): SimSettings {
  return {
    latencyMs: { graph: 0, dataverse: 0, bap: 0, login: 0 },
    faults: [],
    seed: 1,
    rateLimits: {
      graph: { enabled: true, unitsPerWindow: null, windowSeconds: 10, writesPerWindow: 3000, writeWindowSeconds: 150 },
      dataverse: {
        enabled: true, requestsPerWindow: 6000, windowSeconds: 300, executionMsPerWindow: 1_200_000, maxConcurrent: 52,
        msPerRead: 2, msPerWrite: 10, dopHint: 4,
      },
      bap: { enabled: true, requestsPerWindow: 600, windowSeconds: 60 },
    },
    graph: { deltaPageSize: 200, groupDeltaPageSize: 100, groupDeltaMembersPerPage: 1000, deltaEmptyFirstPage: false, deltaTokenTtlSeconds: 7 * 24 * 3600, licenseReadLagMs: 0 },
    dataverse: { refuseSyncedUserDisable: true, requireCallerUser: false },
    tokenLifetimeSeconds: 3599,
    checkAudience: true,
  };
}

/** A partial settings document: objects merge, arrays (faults) replace. */
export type SettingsPatch = DeepPartial<SimSettings> & { latencyMs?: number | Partial<SimSettings["latencyMs"]> };
type DeepPartial<T> = T extends Array<infer U> ? Array<U | DeepPartial<U>> : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function deepMerge(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch === undefined ? base : patch;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) out[k] = v === undefined ? base[k] : deepMerge(base[k], v);
  return out;
}

export class SettingsError extends Error {}

/** Applies a patch and validates the result (throws SettingsError with the problems). */
export function applySettingsPatch(current: SimSettings, patch: unknown): SimSettings {
  if (!isPlainObject(patch)) throw new SettingsError("settings must be a JSON object");
  const normalized: Record<string, unknown> = { ...patch };
  if (typeof normalized.latencyMs === "number") {
    const ms = normalized.latencyMs;
    normalized.latencyMs = { graph: ms, dataverse: ms, bap: ms, login: ms };
  }
  if (Array.isArray(normalized.faults)) {
    const parsed = z.array(FaultRuleSchema).safeParse(normalized.faults);
    if (!parsed.success) throw new SettingsError(parsed.error.issues.map((i) => `faults.${i.path.join(".")}: ${i.message}`).join("; "));
    normalized.faults = parsed.data;
    for (const rule of parsed.data) {
      if (rule.pathPattern) {
        try {
          new RegExp(rule.pathPattern);
        } catch {
          throw new SettingsError(`faults.pathPattern is not a valid regular expression: ${rule.pathPattern}`);
        }
      }
    }
  }
  const merged = deepMerge(current, normalized);
  const result = SettingsSchema.strict().safeParse(merged);
  if (!result.success) throw new SettingsError(result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
  return result.data;
}
