import type { Container } from "@azure/cosmos";
import { ifMatchAccepts, writeMatchingAny } from "../http/conventions.js";
import { z } from "zod";
import { AppError } from "../errors/app-error.js";
import { createItem, readItem, replaceIfMatch } from "../storage/repository.js";
import { ALERT_SETTINGS_DEFAULTS, alertSettingsSchema } from "../alerts/settings.js";

/**
 * Per-tenant settings documents in the `settings` container (partition key `/tenantId`), one
 * document per kind, versioned by ETag: updates require the ETag the caller read (If-Match).
 */
export const SETTINGS_KINDS = {
  /**
   * A1: the auto-claim feature switch, off by default; A13: after how many days without use a
   * license claimed through a policy returns to the pool (null: the deployment's default,
   * AUTOCLAIM_RECLAIM_AFTER_DAYS, itself off unless set; 0: off for this tenant).
   */
  "auto-claim": z.object({
    enabled: z.boolean(),
    reclaimAfterDays: z
      .number()
      .int()
      .min(0)
      .max(3650)
      .nullable()
      .default(null)
      .describe("A13: days without use after which a claimed license returns to the pool; 0 off; null (default) the deployment's default (AUTOCLAIM_RECLAIM_AFTER_DAYS, off unless set)"),
  }),
  /** P11: one switch that pauses every automatic change (claims, sync writes, trial expiry). */
  automation: z.object({ paused: z.boolean() }),
  /** L18: alert webhook, low-stock threshold, on/off (off by default). */
  alerts: alertSettingsSchema,
} as const;

export type SettingsKind = keyof typeof SETTINGS_KINDS;
export type SettingsValue<K extends SettingsKind> = z.infer<(typeof SETTINGS_KINDS)[K]>;

export const SETTINGS_DEFAULTS: { [K in SettingsKind]: SettingsValue<K> } = {
  "auto-claim": { enabled: false, reclaimAfterDays: null },
  automation: { paused: false },
  alerts: ALERT_SETTINGS_DEFAULTS,
};

type SettingsDocument<K extends SettingsKind> = SettingsValue<K> & {
  id: K;
  tenantId: string;
  updatedAt: string;
  updatedBy: string;
};

export interface VersionedSettings<K extends SettingsKind> {
  value: SettingsValue<K>;
  /** ETag of the stored document; "default" while the tenant never changed it. */
  etag: string;
  updatedAt: string | null;
  updatedBy: string | null;
}

/** ETag a caller sends to change settings that were never stored (still at their defaults). */
export const DEFAULT_ETAG = '"default"';

/** How long a read may be served from memory: changes reach claims within 30 s (A10). */
const CACHE_MS = 10_000;

export class TenantSettings {
  private readonly cache = new Map<string, { at: number; value: VersionedSettings<SettingsKind> }>();
  private readonly refreshing = new Set<string>();

  constructor(
    private readonly container: Container,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async get<K extends SettingsKind>(tenantId: string, kind: K): Promise<VersionedSettings<K>> {
    const doc = await readItem<SettingsDocument<K>>(this.container, kind, tenantId);
    const value: VersionedSettings<K> = doc
      ? { value: SETTINGS_KINDS[kind].parse(doc) as SettingsValue<K>, etag: doc._etag, updatedAt: doc.updatedAt, updatedBy: doc.updatedBy }
      : { value: SETTINGS_DEFAULTS[kind], etag: DEFAULT_ETAG, updatedAt: null, updatedBy: null };
    this.cache.set(`${tenantId}|${kind}`, { at: Date.now(), value });
    return value;
  }

  /** For the automatic paths (claims, sync, expiry): a value at most CACHE_MS old. */
  async current<K extends SettingsKind>(tenantId: string, kind: K): Promise<SettingsValue<K>> {
    const hit = this.cache.get(`${tenantId}|${kind}`);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.value.value as SettingsValue<K>;
    return (await this.get(tenantId, kind)).value;
  }

  /**
   * For readers that tolerate an older value and must not wait (L18 alerts on the assignment path):
   * a value at most CACHE_MS old as `current` gives it; a cached value up to `staleMs` old is
   * returned at once while it is read again in the background; only without one is the read awaited.
   */
  async currentOrStale<K extends SettingsKind>(tenantId: string, kind: K, staleMs: number): Promise<SettingsValue<K>> {
    const key = `${tenantId}|${kind}`;
    const hit = this.cache.get(key);
    const age = hit ? Date.now() - hit.at : Infinity;
    if (hit && age < CACHE_MS) return hit.value.value as SettingsValue<K>;
    if (hit && age < staleMs) {
      if (!this.refreshing.has(key)) {
        this.refreshing.add(key);
        void this.get(tenantId, kind)
          .catch(() => undefined) // the stale value stays; the next call tries again
          .finally(() => this.refreshing.delete(key));
      }
      return hit.value.value as SettingsValue<K>;
    }
    return (await this.get(tenantId, kind)).value;
  }

  /**
   * Replaces the settings if `ifMatch` is the stored ETag (412 otherwise; `*`: whatever is stored,
   * written again on top of a concurrent change). `before`: the value it replaced.
   */
  put<K extends SettingsKind>(tenantId: string, kind: K, value: SettingsValue<K>, ifMatch: string, by: string): Promise<VersionedSettings<K> & { before: SettingsValue<K> }> {
    return writeMatchingAny(ifMatch, () => this.putOnce(tenantId, kind, value, ifMatch, by));
  }

  private async putOnce<K extends SettingsKind>(tenantId: string, kind: K, value: SettingsValue<K>, ifMatch: string, by: string): Promise<VersionedSettings<K> & { before: SettingsValue<K> }> {
    const existing = await readItem<SettingsDocument<K>>(this.container, kind, tenantId);
    const before = existing ? (SETTINGS_KINDS[kind].parse(existing) as SettingsValue<K>) : SETTINGS_DEFAULTS[kind];
    const current = existing?._etag ?? DEFAULT_ETAG;
    if (!ifMatchAccepts(ifMatch, current)) {
      throw new AppError("preconditionFailed", "The settings changed since you read them; read them again and retry with the new ETag.");
    }
    const doc = { ...value, id: kind, tenantId, updatedAt: this.now().toISOString(), updatedBy: by } as SettingsDocument<K>;
    let stored;
    try {
      stored = existing ? await replaceIfMatch(this.container, doc, existing._etag) : await createItem(this.container, doc);
    } catch (err) {
      // Changed or created by another request between the read and this write.
      if (err instanceof AppError && (err.kind === "conflict" || err.kind === "preconditionFailed" || err.kind === "notFound")) {
        throw new AppError("preconditionFailed", "The settings changed since you read them; read them again and retry with the new ETag.");
      }
      throw err;
    }
    const result: VersionedSettings<K> = { value, etag: stored._etag, updatedAt: doc.updatedAt, updatedBy: by };
    this.cache.set(`${tenantId}|${kind}`, { at: Date.now(), value: result });
    return { ...result, before };
  }
}
