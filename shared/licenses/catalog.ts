import type { Container } from "@azure/cosmos";
import { AppError } from "../errors/app-error.js";
import { readItem, upsert } from "../storage/repository.js";
import type { GraphSku, GraphSubscription, LicensingGraph } from "./graph-licensing.js";
import { capabilityStatusSchema, catalogSchema, type Catalog, type Product, type ProductKind } from "./model.js";
import { FREE_PART_NUMBERS, productDisplayName } from "./product-data.js";

/**
 * L1 product catalog: subscribed SKUs with their counts, kind and renewal date. Graph is the
 * source; each tenant's catalog is cached in memory for at most `maxAgeMs` (60 s) and written to
 * Cosmos (container `catalog`) as a snapshot with its counts, which another instance can start from
 * while it is still fresh. Concurrent readers share one refresh.
 */
export const CATALOG_MAX_AGE_MS = 60_000;

/**
 * How long a catalog is used whose counts may miss a change this process made (Graph was read while
 * the change was under way, so its answer may or may not hold it): long enough that a busy tenant
 * does not read Graph at every change, short enough that the counts shown catch up within seconds.
 */
export const CATALOG_DOUBT_MS = 5_000;

/** Kind and renewal come from the subscriptions, not from subscribedSkus (which has neither). */
export function buildCatalog(tenantId: string, skus: readonly GraphSku[], subscriptions: readonly GraphSubscription[], now: Date): Catalog {
  const products = skus.map((sku): Product => {
    const subs = subscriptions.filter((s) => s.skuId === sku.skuId);
    const status = capabilityStatusSchema.safeParse(sku.capabilityStatus);
    const total = sku.prepaidUnits.enabled + sku.prepaidUnits.warning;
    const usable = sku.capabilityStatus === "Enabled" || sku.capabilityStatus === "Warning";
    const renewals = subs.map((s) => s.nextLifecycleDateTime).filter((d): d is string => !!d).sort();
    return {
      skuId: sku.skuId,
      skuPartNumber: sku.skuPartNumber,
      displayName: productDisplayName(sku.skuPartNumber),
      kind: kindOf(sku.skuPartNumber, subs),
      status: status.success ? status.data : "Enabled",
      renewalDate: renewals[0] ?? null,
      total,
      assigned: sku.consumedUnits,
      available: usable ? Math.max(0, total - sku.consumedUnits) : 0,
      appliesTo: sku.appliesTo,
      servicePlans: sku.servicePlans.map((p) => ({ ...p })),
    };
  });
  return { tenantId, refreshedAt: now.toISOString(), products };
}

function kindOf(partNumber: string, subs: readonly GraphSubscription[]): ProductKind {
  // A self-service purchase is owned by a user (ownerType "User"); a product only counts as one
  // when every subscription behind it is, so company-owned units stay assignable.
  if (subs.length > 0 && subs.every((s) => s.ownerType?.toLowerCase() === "user")) return "selfService";
  if (subs.length > 0 && subs.every((s) => s.isTrial)) return "trial";
  if (FREE_PART_NUMBERS.has(partNumber)) return "free";
  return "paid";
}

interface Cached {
  catalog: Catalog;
  /** Until when it is used (ms since the epoch): read again after. */
  expiresAt: number;
  /** Which Graph read (or snapshot) this is, in this process's order of reads. */
  seq: number;
}

interface SnapshotDocument extends Catalog {
  id: "catalog";
  type: "catalog-snapshot";
}

export interface CatalogServiceDeps {
  graph(tenantId: string): LicensingGraph;
  /** The `catalog` container (partition key /tenantId). */
  snapshots: Container;
  now?: () => Date;
  maxAgeMs?: number;
  /** Told of every catalog read from Graph (L18: the low-stock check); must not throw. */
  onRefresh?: (tenantId: string, catalog: Catalog) => void;
}

export class CatalogService {
  private readonly cache = new Map<string, Cached>();
  /** The read under way per tenant, with the count of changes made here when it began. */
  private readonly inflight = new Map<string, { read: Promise<Catalog>; changes: number }>();
  /** Per tenant, how many changes this process made (a read that spans one cannot be trusted to hold it). */
  private readonly changes = new Map<string, number>();
  /** Tenants whose Cosmos snapshot may predate a change made here: the next read goes to Graph. */
  private readonly snapshotStale = new Set<string>();
  private reads = 0;
  private readonly now: () => Date;
  private readonly maxAgeMs: number;

  constructor(private readonly deps: CatalogServiceDeps) {
    this.now = deps.now ?? (() => new Date());
    this.maxAgeMs = deps.maxAgeMs ?? CATALOG_MAX_AGE_MS;
  }

  /** The catalog at most 60 s old; `fresh` reads Graph now (an admin's refresh, or a count in doubt). */
  async get(tenantId: string, options: { fresh?: boolean } = {}): Promise<Catalog> {
    const cached = this.cache.get(tenantId);
    if (!options.fresh && cached && this.now().getTime() <= cached.expiresAt) return cached.catalog;
    // A read that began before a change made here may not hold it: a reader after the change starts its own.
    const changes = this.changes.get(tenantId) ?? 0;
    const running = this.inflight.get(tenantId);
    if (running && running.changes === changes) return running.read;
    const read = this.refresh(tenantId, options.fresh === true).finally(() => {
      if (this.inflight.get(tenantId)?.read === read) this.inflight.delete(tenantId);
    });
    this.inflight.set(tenantId, { read, changes });
    return read;
  }

  async product(tenantId: string, skuId: string, options: { fresh?: boolean } = {}): Promise<Product> {
    const find = (catalog: Catalog) => catalog.products.find((p) => p.skuId === skuId.toLowerCase());
    // A product bought since the catalog was read: read it again once before saying it is not there.
    const found = find(await this.get(tenantId, options)) ?? (options.fresh ? undefined : find(await this.get(tenantId, { fresh: true })));
    if (!found) throw new AppError("notFound", "The product is not subscribed in this tenant.");
    return found;
  }

  /** Which read the cached catalog is (`adjustAssigned` takes it as read before a change was sent). */
  readSeq(tenantId: string): number {
    return this.cache.get(tenantId)?.seq ?? -1;
  }

  /**
   * Keeps the cached counts in step with changes this process made (so the next request's
   * availability check does not wait for the next refresh). Graph stays the source of truth: when
   * the catalog was read again since the change was sent (`readBefore`), that read may or may not
   * hold it, so it is not adjusted but read again before its next use.
   */
  adjustAssigned(tenantId: string, changes: ReadonlyMap<string, number>, readBefore: number): void {
    this.noteChange(tenantId);
    const cached = this.cache.get(tenantId);
    if (!cached || cached.seq !== readBefore) return this.doubt(tenantId, CATALOG_DOUBT_MS);
    const products = cached.catalog.products.map((p) => {
      const delta = changes.get(p.skuId);
      if (!delta) return p;
      const assigned = Math.max(0, p.assigned + delta);
      const usable = p.status === "Enabled" || p.status === "Warning";
      return { ...p, assigned, available: usable ? Math.max(0, p.total - assigned) : 0 };
    });
    this.cache.set(tenantId, { ...cached, catalog: { ...cached.catalog, products } });
  }

  /** The catalog this process holds, however old (never reads anything). */
  cached(tenantId: string): Catalog | undefined {
    return this.cache.get(tenantId)?.catalog;
  }

  /** The counts are in doubt (Graph refused for lack of licenses, or a change's outcome is unknown): the next use reads Graph. */
  invalidate(tenantId: string): void {
    this.noteChange(tenantId);
    this.doubt(tenantId, 0);
  }

  private noteChange(tenantId: string): void {
    this.changes.set(tenantId, (this.changes.get(tenantId) ?? 0) + 1);
  }

  /** The cached counts may be wrong: used at most `forMs` more (the snapshot in Cosmos not at all). */
  private doubt(tenantId: string, forMs: number): void {
    const cached = this.cache.get(tenantId);
    const until = forMs === 0 ? Number.NEGATIVE_INFINITY : this.now().getTime() + forMs;
    if (cached) this.cache.set(tenantId, { ...cached, expiresAt: Math.min(cached.expiresAt, until) });
    this.snapshotStale.add(tenantId);
  }

  private async refresh(tenantId: string, fresh: boolean): Promise<Catalog> {
    const changesBefore = this.changes.get(tenantId) ?? 0;
    // A change made here while the read was under way may or may not be in Graph's answer.
    const spanned = () => (this.changes.get(tenantId) ?? 0) !== changesBefore;
    if (!fresh && !this.cache.has(tenantId) && !this.snapshotStale.has(tenantId)) {
      const snapshot = await this.readSnapshot(tenantId);
      if (snapshot && !spanned() && this.now().getTime() - Date.parse(snapshot.refreshedAt) <= this.maxAgeMs) {
        this.cache.set(tenantId, { catalog: snapshot, expiresAt: Date.parse(snapshot.refreshedAt) + this.maxAgeMs, seq: ++this.reads });
        return snapshot;
      }
    }
    const { skus, subscriptions } = await this.deps.graph(tenantId).readCatalogSources();
    const catalog = buildCatalog(tenantId, skus, subscriptions, this.now());
    const now = this.now().getTime();
    this.deps.onRefresh?.(tenantId, catalog);
    if (spanned()) {
      // What Graph said, but perhaps without a change made meanwhile: used briefly, not shared as a snapshot.
      this.cache.set(tenantId, { catalog, expiresAt: now + Math.min(CATALOG_DOUBT_MS, this.maxAgeMs), seq: ++this.reads });
      return catalog;
    }
    this.cache.set(tenantId, { catalog, expiresAt: now + this.maxAgeMs, seq: ++this.reads });
    this.snapshotStale.delete(tenantId);
    await upsert<SnapshotDocument>(this.deps.snapshots, { ...catalog, id: "catalog", type: "catalog-snapshot" });
    return catalog;
  }

  private async readSnapshot(tenantId: string): Promise<Catalog | undefined> {
    const doc = await readItem<SnapshotDocument>(this.deps.snapshots, "catalog", tenantId);
    if (!doc) return undefined;
    const parsed = catalogSchema.safeParse(doc);
    return parsed.success ? parsed.data : undefined;
  }
}
