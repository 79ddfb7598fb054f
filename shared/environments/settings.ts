import { ifMatchAccepts, writeMatchingAny } from "../http/conventions.js";
import type { Container } from "@azure/cosmos";
import { z } from "zod";
import { AppError } from "../errors/app-error.js";
import { createItem, queryAll, readItem, replaceIfMatch } from "../storage/repository.js";
import { meter } from "../sync/metrics.js";

/**
 * This product's settings of one environment (D14, D15): the only things an admin sets about an
 * environment. Type, Dataverse URL and security group come from the Power Platform admin API.
 * Stored in the `settings` container (partition key tenantId), id `environment|<environmentId>`,
 * versioned by ETag like every settings document.
 */
export const environmentSettingsSchema = z.object({
  /** Whether this product syncs the environment (off until an admin switches it on). */
  syncEnabled: z.boolean(),
  /** D13: a run that would disable more than this share of the enabled users waits for approval; null = the app default. */
  massDisableThresholdPercent: z.number().min(0).max(100).nullable(),
  /** D14: security roles a user added by this product receives. */
  defaultSecurityRoleIds: z.array(z.string()),
});
export type EnvironmentSettings = z.infer<typeof environmentSettingsSchema>;

export const ENVIRONMENT_SETTINGS_DEFAULTS: EnvironmentSettings = { syncEnabled: false, massDisableThresholdPercent: null, defaultSecurityRoleIds: [] };
/** ETag of settings never stored (still the defaults). */
export const DEFAULT_SETTINGS_ETAG = '"default"';

type SettingsDocument = EnvironmentSettings & {
  id: string;
  type: "environment-settings";
  tenantId: string;
  environmentId: string;
  updatedAt: string;
  updatedBy: string;
};

export interface VersionedEnvironmentSettings {
  value: EnvironmentSettings;
  etag: string;
  updatedAt: string | null;
  updatedBy: string | null;
}

const idOf = (environmentId: string) => `environment|${environmentId.toLowerCase()}`;

function toVersioned(doc: (SettingsDocument & { _etag: string }) | undefined): VersionedEnvironmentSettings {
  if (!doc) return { value: ENVIRONMENT_SETTINGS_DEFAULTS, etag: DEFAULT_SETTINGS_ETAG, updatedAt: null, updatedBy: null };
  return { value: environmentSettingsSchema.parse(doc), etag: doc._etag, updatedAt: doc.updatedAt, updatedBy: doc.updatedBy };
}

export class EnvironmentSettingsStore {
  constructor(private readonly container: Container, private readonly now: () => Date = () => new Date()) {}

  async get(tenantId: string, environmentId: string): Promise<VersionedEnvironmentSettings> {
    return toVersioned(await meter.time("cosmos", () => readItem<SettingsDocument>(this.container, idOf(environmentId), tenantId)));
  }

  /** Every environment's settings of a tenant (one query). */
  async all(tenantId: string): Promise<Map<string, VersionedEnvironmentSettings>> {
    const docs = await meter.time("cosmos", () =>
      queryAll<SettingsDocument & { _etag: string }>(
        this.container,
        { query: "SELECT * FROM c WHERE c.tenantId = @t AND c.type = 'environment-settings'", parameters: [{ name: "@t", value: tenantId }] },
        { partitionKey: tenantId, maxItems: 10_000 },
      ),
    );
    return new Map(docs.map((d) => [d.environmentId, toVersioned(d)]));
  }

  /** Tenants with at least one environment whose sync is on (the timer's list; one cross-partition query). */
  async tenantsWithSyncEnabled(): Promise<string[]> {
    const docs = await meter.time("cosmos", () =>
      queryAll<{ tenantId: string }>(
        this.container,
        { query: "SELECT c.tenantId FROM c WHERE c.type = 'environment-settings' AND c.syncEnabled = true" },
        { maxItems: 100_000 },
      ),
    );
    return [...new Set(docs.map((d) => d.tenantId))];
  }

  /** Replaces the settings if `ifMatch` is the stored ETag ("default" while never stored); 412 otherwise; `*`: whatever is stored. */
  async put(tenantId: string, environmentId: string, value: EnvironmentSettings, ifMatch: string, by: string): Promise<VersionedEnvironmentSettings> {
    return (await this.update(tenantId, environmentId, () => Promise.resolve(value), ifMatch, by)).after;
  }

  /**
   * Reads the settings, checks `ifMatch` against them, and writes what `change` makes of them (a
   * merge patch is applied to the value read). Under `If-Match: *` a write that lost a race to
   * another writer is read, changed and written again - the other writer's change kept. `change`
   * returning the value it was given writes nothing (`changed` false: same ETag, nothing to audit).
   */
  update(
    tenantId: string, environmentId: string, change: (current: EnvironmentSettings) => Promise<EnvironmentSettings>, ifMatch: string, by: string,
  ): Promise<{ before: VersionedEnvironmentSettings; after: VersionedEnvironmentSettings; changed: boolean }> {
    return writeMatchingAny(ifMatch, () => this.updateOnce(tenantId, environmentId, change, ifMatch, by));
  }

  private async updateOnce(
    tenantId: string, environmentId: string, change: (current: EnvironmentSettings) => Promise<EnvironmentSettings>, ifMatch: string, by: string,
  ): Promise<{ before: VersionedEnvironmentSettings; after: VersionedEnvironmentSettings; changed: boolean }> {
    const existing = await readItem<SettingsDocument>(this.container, idOf(environmentId), tenantId);
    const before = toVersioned(existing);
    const stale = () => new AppError("preconditionFailed", "The environment's settings changed since you read them; read them again and retry with the new ETag.");
    if (!ifMatchAccepts(ifMatch, before.etag)) throw stale();
    const value = await change(before.value);
    if (value === before.value) return { before, after: before, changed: false };
    const doc: SettingsDocument = {
      ...value, id: idOf(environmentId), type: "environment-settings", tenantId, environmentId: environmentId.toLowerCase(),
      updatedAt: this.now().toISOString(), updatedBy: by,
    };
    try {
      const stored = existing ? await replaceIfMatch(this.container, doc, existing._etag) : await createItem(this.container, doc);
      return { before, after: toVersioned(stored), changed: true };
    } catch (err) {
      // Changed or created by another request between the read and this write.
      if (err instanceof AppError && (err.kind === "conflict" || err.kind === "preconditionFailed" || err.kind === "notFound")) throw stale();
      throw err;
    }
  }
}
