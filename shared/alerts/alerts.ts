import { createHash, randomUUID } from "node:crypto";
import { isGuid } from "../ids.js";
import type { Container, PatchOperation } from "@azure/cosmos";
import { z } from "zod";
import { AppError } from "../errors/app-error.js";
import type { Catalog, Product } from "../licenses/model.js";
import { newEnvelope, type Envelope } from "../queue/envelope.js";
import { TransientError } from "../queue/transient.js";
import type { QueueSender } from "../queue/transport.js";
import { createItem, deleteItem, patchIf, queryAll, queryPage, readItem, replaceIfMatch, type Stored } from "../storage/repository.js";
import type { AlertDocument, AlertLockDocument, AlertPayload, AlertType, AlertView, DeliveryStatus } from "./model.js";
import type { AlertSettings } from "./settings.js";
import { isLowStock, stockFigures } from "./threshold.js";
import { postAlert, type WebhookResult } from "./webhook.js";
import type { AppEnv } from "./webhook-url.js";

/**
 * L18 alerts: a product running low and licensing failures, recorded in Cosmos (container
 * `alerts`) and sent to the tenant's webhook from the event queue (envelope kind `license-alert`).
 *
 * - Raising never fails or slows the caller's work beyond a Cosmos write and a queue send (and
 *   only when an alert is actually raised): every error is logged and swallowed.
 * - Dedupe: a lock document per condition is created before the alert (a second writer gets 409
 *   and raises nothing): one open low-stock alert per product until it recovers; one
 *   licensing-failure alert per (source, code, product, group) for a window after it was raised
 *   (an hour; a day for group-licensing errors) - later occurrences are counted on it, not sent again.
 * - Delivery is a queue message: the webhook being down never touches the admin's request; a
 *   transient failure is retried with the queue's back-off (QUEUE_MAX_ATTEMPTS), and every attempt
 *   is recorded on the alert (`delivery`).
 */
export const ALERT_ENVELOPE_KIND = "license-alert";

/** How old the alert settings may be when an alert is raised (they are re-read behind the scenes after 10 s). */
const SETTINGS_STALE_MS = 5 * 60_000;
/** Open low-stock locks are read again at most this often per tenant (a recovery seen elsewhere shows within it). */
const OPEN_CACHE_MS = 60_000;
/** A lock whose alert was never confirmed as queued after this long is repaired (its writer died). */
const REPAIR_AFTER_MS = 120_000;
const FAILURE_WINDOW_MS = 60 * 60_000;
const GROUP_ERROR_WINDOW_MS = 24 * 60 * 60_000;
const MAX_USER_IDS = 20;

export interface LicensingFailureInput {
  tenantId: string;
  /** Who hit it: "license-administration", "trial-expiry", "auto-claim", "group-licensing", ... */
  source: string;
  /** Stable code, e.g. "not-enough-licenses", "no-license-available", "throttled", "upstream". */
  code: string;
  message: string;
  product?: { skuId: string; skuPartNumber?: string | null; displayName?: string | null } | null;
  userIds?: readonly string[];
  /** Group-licensing errors: the group that hands out the license. */
  groupId?: string | null;
}

export interface AlertLogger {
  warn(message: string, fields?: Record<string, unknown>): void;
}

export interface AlertSettingsSource {
  /** A cached value up to `staleMs` old is served at once (refreshed behind): raising alerts never waits on it. */
  currentOrStale(tenantId: string, kind: "alerts", staleMs: number): Promise<AlertSettings>;
  current(tenantId: string, kind: "alerts"): Promise<AlertSettings>;
}

export interface AlertServiceDeps {
  container: Container;
  queue: QueueSender;
  settings: AlertSettingsSource;
  appEnv: AppEnv;
  /** Attempts of a delivery in total (the queue's QUEUE_MAX_ATTEMPTS). */
  maxAttempts: number;
  now?: () => Date;
  log?: AlertLogger;
  post?: (url: string, payload: AlertPayload, appEnv: AppEnv) => Promise<WebhookResult>;
}

export interface AlertListFilter {
  type?: AlertType | undefined;
  status?: DeliveryStatus | undefined;
  /** Whether the condition still holds (alertState), as of the list's first page. */
  state?: AlertView["state"] | undefined;
}

export const alertMessageSchema = z.object({ alertId: z.string().min(1) });

const consoleLog: AlertLogger = { warn: (message, fields) => console.warn(JSON.stringify({ event: "alerts", message, ...fields })) };

export class AlertService {
  private readonly openLowStock = new Map<string, { at: number; open: Map<string, string> }>();
  private readonly failureLocks = new Map<string, { alertId: string; until: number }>();
  private readonly reloading = new Set<string>();
  /** The service's clock (alert states are judged by it). */
  readonly now: () => Date;
  private readonly log: AlertLogger;
  private readonly post: NonNullable<AlertServiceDeps["post"]>;

  constructor(private readonly deps: AlertServiceDeps) {
    this.now = deps.now ?? (() => new Date());
    this.log = deps.log ?? consoleLog;
    this.post = deps.post ?? postAlert;
  }

  // --- raising -------------------------------------------------------------------------------

  /**
   * Low stock (L18 a): compares every product of the catalog with the tenant's threshold; raises
   * an alert for a product that went below it and closes the open one of a product that recovered.
   * Called when the catalog is refreshed from Graph and after assignments changed the counts.
   */
  async checkStock(tenantId: string, catalog: Catalog): Promise<void> {
    try {
      const settings = await this.deps.settings.currentOrStale(tenantId, "alerts", SETTINGS_STALE_MS);
      // Without a threshold nothing is low: alerts still open are resolved.
      if (!settings.enabled) return;
      const open = await this.openLowStockOf(tenantId);
      const work: Promise<void>[] = [];
      for (const product of catalog.products) {
        const low = isLowStock(product, settings.lowStock);
        if (low && !open.has(product.skuId)) {
          open.set(product.skuId, "");
          work.push(this.raiseLowStock(tenantId, product, settings).catch((err: unknown) => {
            open.delete(product.skuId);
            throw err;
          }));
        } else if (!low && open.has(product.skuId)) {
          const alertId = open.get(product.skuId) ?? "";
          open.delete(product.skuId);
          work.push(this.resolveLowStock(tenantId, product.skuId, alertId));
        }
      }
      // A product no longer subscribed cannot run low any more.
      const subscribed = new Set(catalog.products.map((p) => p.skuId));
      for (const [skuId, alertId] of [...open]) {
        if (subscribed.has(skuId) || alertId === "") continue;
        open.delete(skuId);
        work.push(this.resolveLowStock(tenantId, skuId, alertId));
      }
      const failed = (await Promise.allSettled(work)).find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
    } catch (err) {
      this.openLowStock.delete(tenantId); // read the locks again next time
      this.log.warn("low-stock check failed", { tenantId, error: describe(err) });
    }
  }

  /** Licensing failures (L18 b); for every module (see raiseLicensingFailure in composition.ts). */
  async licensingFailure(input: LicensingFailureInput): Promise<void> {
    try {
      const settings = await this.deps.settings.currentOrStale(input.tenantId, "alerts", SETTINGS_STALE_MS);
      if (!settings.enabled) return;
      const at = this.now();
      const skuId = input.product?.skuId.toLowerCase() ?? null;
      const groupId = input.groupId?.toLowerCase() ?? null;
      const windowMs = groupId ? GROUP_ERROR_WINDOW_MS : FAILURE_WINDOW_MS;
      const key = createHash("sha256").update(JSON.stringify([input.source, input.code, skuId, groupId])).digest("hex").slice(0, 32);
      // One alert per key and window, the window starting at the alert (not at a clock boundary).
      const lockId = `failure|${key}`;
      const userIds = [...new Set(input.userIds ?? [])].slice(0, MAX_USER_IDS);
      const cacheKey = `${input.tenantId}|${lockId}`;
      const known = this.failureLocks.get(cacheKey);
      if (known && at.getTime() < known.until && (await this.countOccurrence(input.tenantId, known.alertId, at, userIds))) return;
      const alert = this.newAlert(input.tenantId, "licensing-failure", at, {
        product: skuId ? { skuId, skuPartNumber: input.product?.skuPartNumber ?? null, displayName: input.product?.displayName ?? null } : null,
        failure: { source: input.source, code: input.code, message: input.message, userIds, occurrences: 1, lastOccurredAt: at.toISOString(), groupId },
      });
      const raised = await this.raise(alert, { id: lockId, skuId, ttlSeconds: Math.ceil((2 * windowMs) / 1000), windowMs });
      this.failureLocks.set(cacheKey, { alertId: raised.alertId, until: Date.parse(raised.openedAt) + windowMs });
      if (!raised.created) await this.countOccurrence(input.tenantId, raised.alertId, at, userIds);
    } catch (err) {
      this.log.warn("licensing-failure alert could not be recorded", { tenantId: input.tenantId, code: input.code, error: describe(err) });
    }
  }

  private async raiseLowStock(tenantId: string, product: Product, settings: AlertSettings): Promise<void> {
    const alert = this.newAlert(tenantId, "low-stock", this.now(), {
      product: { skuId: product.skuId, skuPartNumber: product.skuPartNumber, displayName: product.displayName },
      figures: stockFigures(product, settings.lowStock),
    });
    const raised = await this.raise(alert, { id: lowStockLockId(product.skuId), skuId: product.skuId, ttlSeconds: -1 });
    this.openLowStock.get(tenantId)?.open.set(product.skuId, raised.alertId);
  }

  private async resolveLowStock(tenantId: string, skuId: string, knownAlertId: string): Promise<void> {
    const lock = await readItem<AlertLockDocument>(this.deps.container, lowStockLockId(skuId), tenantId);
    const alertId = lock?.alertId ?? knownAlertId;
    if (lock) await deleteItem(this.deps.container, lock.id, tenantId, { ifMatch: lock._etag }).catch(ignoreRace);
    if (!alertId) return;
    await patchIf(this.deps.container, alertId, tenantId, [
      { op: "set", path: "/state", value: "resolved" },
      { op: "set", path: "/resolvedAt", value: this.now().toISOString() },
    ]).catch(ignoreNotFound);
  }

  /**
   * Lock first (the dedupe), then the alert, then the queue message, then the lock is marked as
   * queued. A 409 on the lock means the condition already has its alert: nothing new is raised
   * (an alert whose writer died before queueing it is finished here).
   */
  private async raise(
    alert: AlertDocument, lock: { id: string; skuId: string | null; ttlSeconds: number; windowMs?: number },
  ): Promise<{ alertId: string; created: boolean; openedAt: string }> {
    const lockDoc: AlertLockDocument & { queued: boolean; createdAt: string } = {
      id: lock.id, tenantId: alert.tenantId, docType: "alert-lock", alertType: alert.type, alertId: alert.id, skuId: lock.skuId, alert,
      ttl: lock.ttlSeconds, queued: false, createdAt: alert.occurredAt,
    };
    const created = { alertId: alert.id, created: true, openedAt: alert.occurredAt };
    try {
      await createItem(this.deps.container, lockDoc);
    } catch (err) {
      if (!(err instanceof AppError && err.kind === "conflict")) throw err;
      const existing = await readItem<AlertLockDocument & { queued?: boolean; createdAt?: string }>(this.deps.container, lock.id, alert.tenantId);
      if (!existing) return { ...created, created: false }; // resolved meanwhile
      const openedAt = existing.createdAt ?? existing.alert.occurredAt;
      if (lock.windowMs !== undefined && Date.parse(alert.occurredAt) - Date.parse(openedAt) >= lock.windowMs) {
        // The window of the existing alert is over: this occurrence opens a new one (one writer wins the If-Match).
        try {
          await replaceIfMatch(this.deps.container, lockDoc, existing._etag);
        } catch (raced) {
          if (!(raced instanceof AppError && raced.kind === "preconditionFailed")) throw raced;
          const winner = await readItem<AlertLockDocument & { createdAt?: string }>(this.deps.container, lock.id, alert.tenantId);
          return { alertId: winner?.alertId ?? existing.alertId, created: false, openedAt: winner?.createdAt ?? openedAt };
        }
        await this.storeAndQueue(alert, lockDoc);
        return created;
      }
      await this.repairIfStale(existing);
      return { alertId: existing.alertId, created: false, openedAt };
    }
    await this.storeAndQueue(alert, lockDoc);
    return created;
  }

  private async storeAndQueue(alert: AlertDocument, lock: Pick<AlertLockDocument, "id" | "tenantId">): Promise<void> {
    await createItem(this.deps.container, alert).catch(ignoreConflict);
    await this.deps.queue.send(newEnvelope({ kind: ALERT_ENVELOPE_KIND, tenantId: alert.tenantId, id: `alert-${alert.id}`, body: { alertId: alert.id } }));
    await patchIf(this.deps.container, lock.id, lock.tenantId, [{ op: "set", path: "/queued", value: true }]).catch(ignoreNotFound);
  }

  private async repairIfStale(lock: AlertLockDocument & { queued?: boolean; createdAt?: string }): Promise<void> {
    if (lock.queued !== false || !lock.createdAt) return;
    if (this.now().getTime() - Date.parse(lock.createdAt) < REPAIR_AFTER_MS) return;
    this.log.warn("finishing an alert whose writer stopped before queueing it", { tenantId: lock.tenantId, alertId: lock.alertId });
    await this.storeAndQueue(lock.alert, lock);
  }

  /**
   * A repeat within the alert's window: counted, and its users named on the alert too (up to
   * MAX_USER_IDS, each once) - the alert listed only the first occurrence's users.
   */
  private async countOccurrence(tenantId: string, alertId: string, at: Date, userIds: readonly string[]): Promise<boolean> {
    const ops: PatchOperation[] = [
      { op: "incr", path: "/failure/occurrences", value: 1 },
      { op: "set", path: "/failure/lastOccurredAt", value: at.toISOString() },
    ];
    let named: Set<string>;
    try {
      const counted = await patchIf<AlertDocument>(this.deps.container, alertId, tenantId, ops);
      named = new Set(counted.failure?.userIds ?? []);
    } catch (err) {
      if (err instanceof AppError && err.kind === "notFound") return false;
      throw err;
    }
    const missing = userIds.filter((id) => isGuid(id) && !named.has(id)).slice(0, Math.max(0, MAX_USER_IDS - named.size));
    for (const userId of missing) {
      // Each only while the list has room and does not hold it (a condition the write checks on the alert as stored).
      const condition = `FROM c WHERE ARRAY_LENGTH(c.failure.userIds) < ${MAX_USER_IDS} AND NOT ARRAY_CONTAINS(c.failure.userIds, "${userId}")`;
      await patchIf(this.deps.container, alertId, tenantId, [{ op: "add", path: "/failure/userIds/-", value: userId }], { condition }).catch((err: unknown) => {
        if (!(err instanceof AppError && (err.kind === "preconditionFailed" || err.kind === "notFound"))) throw err;
      });
    }
    return true;
  }

  /** The products with an open low-stock alert; a known list is used at once and re-read behind it when older than OPEN_CACHE_MS. */
  private async openLowStockOf(tenantId: string): Promise<Map<string, string>> {
    const cached = this.openLowStock.get(tenantId);
    if (cached && Date.now() - cached.at >= OPEN_CACHE_MS && !this.reloading.has(tenantId)) {
      this.reloading.add(tenantId);
      void this.loadOpenLowStock(tenantId)
        .catch((err: unknown) => this.log.warn("open low-stock alerts could not be read", { tenantId, error: describe(err) }))
        .finally(() => this.reloading.delete(tenantId));
    }
    return cached ? cached.open : this.loadOpenLowStock(tenantId);
  }

  private async loadOpenLowStock(tenantId: string): Promise<Map<string, string>> {
    const locks = await queryAll<AlertLockDocument & { queued?: boolean; createdAt?: string }>(
      this.deps.container,
      {
        query: "SELECT * FROM c WHERE c.tenantId = @t AND c.docType = 'alert-lock' AND c.alertType = 'low-stock'",
        parameters: [{ name: "@t", value: tenantId }],
      },
      { partitionKey: tenantId, maxItems: 10_000 },
    );
    const open = new Map(locks.filter((l) => l.skuId).map((l) => [l.skuId as string, l.alertId]));
    this.openLowStock.set(tenantId, { at: Date.now(), open });
    await Promise.all(locks.map((l) => this.repairIfStale(l)));
    return open;
  }

  private newAlert(tenantId: string, type: AlertType, at: Date, content: Partial<Pick<AlertDocument, "product" | "figures" | "failure">>): AlertDocument {
    return {
      id: randomUUID(), tenantId, docType: "alert", type, occurredAt: at.toISOString(),
      product: content.product ?? null, figures: content.figures ?? null, failure: content.failure ?? null,
      state: "open", resolvedAt: null,
      delivery: { status: "pending", attempts: 0, lastAttemptAt: null, deliveredAt: null, lastError: null },
    };
  }

  // --- delivery ------------------------------------------------------------------------------

  /**
   * The queue handler of `license-alert` envelopes. Delivered, failed and skipped alerts are left
   * alone (a re-delivered message sends nothing twice). A transient failure throws, so the queue
   * retries with its back-off; the last attempt marks the alert failed instead.
   */
  async deliver(envelope: Envelope): Promise<void> {
    const { alertId } = alertMessageSchema.parse(envelope.body);
    const tenantId = envelope.tenantId;
    const alert = await readItem<AlertDocument>(this.deps.container, alertId, tenantId);
    if (!alert || alert.docType !== "alert" || alert.delivery.status !== "pending") return;
    const settings = await this.deps.settings.current(tenantId, "alerts");
    const at = this.now().toISOString();
    if (!settings.enabled || !settings.webhookUrl) {
      await this.recordDelivery(alert, "skipped", at, "alerts were switched off (or the webhook removed) before delivery");
      return;
    }
    const result = await this.post(settings.webhookUrl, payloadOf(alert), this.deps.appEnv);
    if (result.ok) {
      await this.recordDelivery(alert, "delivered", at, null);
      return;
    }
    const last = envelope.attempt >= this.deps.maxAttempts;
    if (!result.transient || last) {
      const reason = last && result.transient ? `gave up after ${envelope.attempt} attempts: ${result.reason}` : result.reason;
      await this.recordDelivery(alert, "failed", at, reason);
      this.log.warn("alert delivery failed", { tenantId, alertId, reason });
      return;
    }
    await this.recordDelivery(alert, "pending", at, result.reason);
    throw new TransientError(`alert ${alertId}: ${result.reason}`);
  }

  private async recordDelivery(alert: Stored<AlertDocument>, status: DeliveryStatus, at: string, error: string | null): Promise<void> {
    const ops: PatchOperation[] = [
      { op: "set", path: "/delivery/status", value: status },
      { op: "incr", path: "/delivery/attempts", value: status === "skipped" ? 0 : 1 },
      { op: "set", path: "/delivery/lastAttemptAt", value: at },
      { op: "set", path: "/delivery/lastError", value: error },
    ];
    if (status === "delivered") ops.push({ op: "set", path: "/delivery/deliveredAt", value: at });
    await patchIf(this.deps.container, alert.id, alert.tenantId, ops);
  }

  // --- reading -------------------------------------------------------------------------------

  /**
   * A page of the tenant's alerts, newest first, optionally of one type, delivery status or state;
   * `asOf` is the time their state is judged at (a list's pages share it).
   */
  async page(
    tenantId: string, filter: AlertListFilter, limit: number, continuationToken?: string, asOf: Date = this.now(),
  ): Promise<{ items: AlertView[]; continuationToken: string | null }> {
    const where = ["c.tenantId = @t", "c.docType = 'alert'"];
    const parameters = [{ name: "@t", value: tenantId }];
    if (filter.type) {
      where.push("c.type = @type");
      parameters.push({ name: "@type", value: filter.type });
    }
    if (filter.status) {
      where.push("c.delivery.status = @status");
      parameters.push({ name: "@status", value: filter.status });
    }
    if (filter.state) {
      // alertState in the query: stored open, and not a licensing failure past its window (an hour; a day for a group's).
      const open =
        "(c.state = 'open' AND (c.type != 'licensing-failure' OR c.occurredAt > @cut OR (c.occurredAt > @groupCut AND IS_STRING(c.failure.groupId))))";
      where.push(filter.state === "open" ? open : `NOT ${open}`);
      parameters.push(
        { name: "@cut", value: new Date(asOf.getTime() - FAILURE_WINDOW_MS).toISOString() },
        { name: "@groupCut", value: new Date(asOf.getTime() - GROUP_ERROR_WINDOW_MS).toISOString() },
      );
    }
    const page = await queryPage<AlertDocument>(
      this.deps.container,
      { query: `SELECT * FROM c WHERE ${where.join(" AND ")} ORDER BY c.occurredAt DESC`, parameters },
      { limit, continuationToken: continuationToken ?? null, partitionKey: tenantId },
    );
    return { items: page.items.map((a) => viewOf(a, asOf)), continuationToken: page.continuationToken };
  }
}

export const lowStockLockId = (skuId: string) => `low-stock|${skuId.toLowerCase()}`;

export function payloadOf(alert: AlertDocument): AlertPayload {
  return {
    id: alert.id, type: alert.type, tenantId: alert.tenantId, occurredAt: alert.occurredAt,
    product: alert.product, figures: alert.figures, failure: alert.failure,
  };
}

function viewOf(alert: AlertDocument, now: Date): AlertView {
  return { ...payloadOf(alert), ...alertState(alert, now), delivery: alert.delivery };
}

/**
 * Whether the condition still holds: a low-stock alert until its product recovers (stored when it
 * does); a licensing failure for its window (an hour; a day for group-licensing errors) - later
 * occurrences are counted on it meanwhile, and one after the window raises a new alert. It showed
 * "open" for ever.
 */
export function alertState(alert: Pick<AlertDocument, "type" | "state" | "resolvedAt" | "occurredAt" | "failure">, now: Date): Pick<AlertView, "state" | "resolvedAt"> {
  if (alert.type !== "licensing-failure" || alert.state === "resolved") return { state: alert.state, resolvedAt: alert.resolvedAt };
  const ends = Date.parse(alert.occurredAt) + (alert.failure?.groupId ? GROUP_ERROR_WINDOW_MS : FAILURE_WINDOW_MS);
  return now.getTime() < ends ? { state: "open", resolvedAt: null } : { state: "resolved", resolvedAt: new Date(ends).toISOString() };
}

function describe(err: unknown): string {
  if (err instanceof AppError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

function ignoreConflict(err: unknown): void {
  if (err instanceof AppError && err.kind === "conflict") return;
  throw err;
}

function ignoreNotFound(err: unknown): void {
  if (err instanceof AppError && err.kind === "notFound") return;
  throw err;
}

function ignoreRace(err: unknown): void {
  if (err instanceof AppError && (err.kind === "notFound" || err.kind === "preconditionFailed")) return;
  throw err;
}
