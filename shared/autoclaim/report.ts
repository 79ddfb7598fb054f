import type { CatalogService } from "../licenses/catalog.js";
import { trackingPlanFailureCode, type EventStore } from "../events/event-store.js";
import type { EventDocument, EventStatus } from "../events/sign-in-event.js";
import type { FailureStore } from "../queue/failure-store.js";
import type { ClaimDocument, ClaimStore } from "./claims.js";
import type { PolicyStore } from "./policy-store.js";
import { REPORT_MAX_ROWS, type Report } from "./report-model.js";

/**
 * A7 + A11 (+ A13): what each policy claimed over the period, per product with the users; the
 * events that failed or were skipped with their reasons; reclaimed licenses; and the queue
 * messages that could not be processed at all. Counts are complete; lists are capped.
 */
export interface ReportDeps {
  policies: PolicyStore;
  claims: ClaimStore;
  events: EventStore;
  catalog: CatalogService;
  failures: FailureStore;
}

export async function buildReport(deps: ReportDeps, tenantId: string, days: number, now: Date): Promise<Report> {
  const from = new Date(now.getTime() - days * 24 * 3600_000);
  const [policies, claims, reclaimed, catalog, listed, counts, failures, trackingFailures] = await Promise.all([
    deps.policies.all(tenantId),
    deps.claims.claimedSince(tenantId, from),
    deps.claims.reclaimedSince(tenantId, from),
    deps.catalog.get(tenantId).catch(() => undefined),
    deps.events.processedSince(tenantId, ["failed", "skipped"], from, REPORT_MAX_ROWS * 2),
    deps.events.countsSince(tenantId, ["failed", "skipped"], from),
    deps.failures.list(tenantId, { limit: 100 }),
    deps.events.trackingPlanFailuresSince(tenantId, from, REPORT_MAX_ROWS),
  ]);
  const partNumber = new Map((catalog?.products ?? []).map((p) => [p.skuId, p.skuPartNumber]));

  const byPolicy = new Map<string, ClaimDocument[]>();
  for (const c of claims) {
    const own = byPolicy.get(c.policyId);
    if (own) own.push(c);
    else byPolicy.set(c.policyId, [c]);
  }
  const deletedNames = await deps.policies.deletedNames(tenantId, [...byPolicy.keys()].filter((id) => !policies.some((p) => p.id === id)));
  const policyRows = [
    ...policies.map((p) => ({ policyId: p.id, name: p.name, appId: p.appId, deleted: false, order: p.products.map((x) => x.skuId) })),
    ...[...byPolicy.keys()]
      .filter((id) => !policies.some((p) => p.id === id))
      .map((id) => {
        const first = byPolicy.get(id)?.[0];
        // The name it had when deleted; claims carry the name of their day.
        return { policyId: id, name: deletedNames.get(id) ?? first?.policyName ?? id, appId: first?.appId ?? "", deleted: true, order: [] as string[] };
      }),
  ].map((p) => {
    const own = byPolicy.get(p.policyId) ?? [];
    const skus = [...new Set([...p.order, ...own.map((c) => c.skuId)])];
    return {
      policyId: p.policyId,
      name: p.name,
      appId: p.appId,
      deleted: p.deleted,
      count: own.length,
      products: skus.map((skuId) => {
        const users = own.filter((c) => c.skuId === skuId).sort((a, b) => (a.claimedAt ?? "").localeCompare(b.claimedAt ?? ""));
        return {
          skuId,
          skuPartNumber: partNumber.get(skuId) ?? null,
          count: users.length,
          users: users.slice(0, REPORT_MAX_ROWS).map((c) => ({
            userId: c.userId,
            claimedAt: c.claimedAt ?? c.createdAt,
            eventId: c.eventId,
            trigger: c.trigger,
            source: c.source,
            caller: c.caller.id,
            state: c.status === "reclaimed" ? ("reclaimed" as const) : ("claimed" as const),
          })),
          usersTruncated: users.length > REPORT_MAX_ROWS,
        };
      }),
    };
  });

  const list = (status: EventStatus) => {
    const rows = listed.filter((e) => e.status === status);
    const byReason = counts.filter((c) => c.status === status).map((c) => ({ code: c.code ?? "unknown", count: c.n }));
    const count = byReason.reduce((sum, r) => sum + r.count, 0);
    return {
      count,
      byReason: byReason.sort((a, b) => b.count - a.count),
      events: rows.slice(0, REPORT_MAX_ROWS).map(row),
      truncated: count > Math.min(rows.length, REPORT_MAX_ROWS),
    };
  };

  const trackingPlansFailed = {
    count: trackingFailures.codes.length,
    byReason: countBy(trackingFailures.codes),
    events: trackingFailures.events.map((e) => ({ ...row(e), code: trackingPlanFailureCode(e.trackingPlan), reason: e.trackingPlan?.reason ?? null })),
    truncated: trackingFailures.codes.length > trackingFailures.events.length,
  };

  // Every message of the tenant kept as unprocessable (sign-in events, first accesses, sync jobs, a
  // kind no handler takes, one too broken to tell its kind): this report is where an admin sees them.
  const recent = failures.items.filter((f) => f.failedAt >= from.toISOString());
  return {
    days,
    from: from.toISOString(),
    to: now.toISOString(),
    policies: policyRows,
    failed: list("failed"),
    skipped: list("skipped"),
    trackingPlansFailed,
    // Reclaimed within the period, whenever claimed (a license is reclaimed after days unused).
    reclaimed: reclaimed.map((c) => ({ userId: c.userId, policyId: c.policyId, skuId: c.skuId, reclaimedAt: c.reclaimedAt ?? "", reason: c.reclaimReason ?? "" })),
    unprocessableMessages: {
      count: recent.length,
      items: recent.map((f) => ({ id: f.id, kind: f.kind, reason: f.reason, failedAt: f.failedAt })),
      truncated: failures.continuationToken !== null,
    },
  };
}

function countBy(codes: readonly string[]): { code: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const code of codes) counts.set(code, (counts.get(code) ?? 0) + 1);
  return [...counts].map(([code, count]) => ({ code, count })).sort((a, b) => b.count - a.count);
}

function row(e: EventDocument) {
  return {
    eventId: e.event.eventId,
    userId: e.event.userId,
    appId: e.event.appId,
    trigger: e.event.trigger,
    source: e.source,
    status: e.status,
    code: e.code ?? null,
    reason: e.reason ?? null,
    at: e.processedAt ?? e.updatedAt,
  };
}
