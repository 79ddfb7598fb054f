import type { Container } from "@azure/cosmos";
import { AppError } from "../errors/app-error.js";
import { MAX_BATCH_ITEMS } from "../clients/graph-batch.js";
import { activeTenantIds } from "../tenants/tenant-registry.js";
import { systemActor } from "./actor.js";
import type { LicenseAssignments } from "./assign.js";
import type { CatalogService } from "./catalog.js";
import type { LicensingGraph } from "./graph-licensing.js";
import type { LicensingFailureInput } from "../alerts/alerts.js";
import { assignedDateTimeOf, directLicenses, groupLicenses, productIndex, TRIAL_DAYS, trialExpiry } from "./license-state.js";

/**
 * L11: a trial license is removed 90 days after it was assigned to the user (the start is the
 * plan's `assignedDateTime` in Graph). Run by a timer; the clock is a parameter. Respects the P11
 * pause switch before every write: paused work is simply found again by the next run (the state
 * is read from Graph each time), never lost. Inherited trials are left to their group (L15).
 */
export interface TrialExpiryDeps {
  catalog: CatalogService;
  assignments: LicenseAssignments;
  graph(tenantId: string, mode: "background"): LicensingGraph;
  isPaused(tenantId: string): Promise<boolean>;
  /**
   * L18: a trial past its 90 days that the user inherits from a group cannot be removed here (L15):
   * the admin is told which group to change, instead of finding the trial still there by chance.
   */
  alert?(input: LicensingFailureInput): Promise<void>;
}

export interface TrialExpiryReport {
  tenantId: string;
  paused: boolean;
  expired: { userId: string; skuId: string; assignedDateTime: string }[];
  failed: { userId: string; skuIds: string[]; code: string; message: string }[];
  skipped: { userId: string; skuId: string; reason: string }[];
}

export const TRIAL_EXPIRY_ACTOR = systemActor("trial-expiry", `Trial expiry (${TRIAL_DAYS} days, L11)`);

export async function expireTrials(deps: TrialExpiryDeps, tenantId: string, now: Date): Promise<TrialExpiryReport> {
  const report: TrialExpiryReport = { tenantId, paused: false, expired: [], failed: [], skipped: [] };
  if (await deps.isPaused(tenantId)) return { ...report, paused: true };
  const catalog = await deps.catalog.get(tenantId);
  const products = productIndex(catalog);
  const graph = deps.graph(tenantId, "background");
  const due = new Map<string, { skuId: string; assignedDateTime: string }[]>();
  /** Expired trials held through a group: skuId|groupId -> users. */
  const inheritedExpired = new Map<string, string[]>();
  for (const trial of catalog.products.filter((p) => p.kind === "trial")) {
    let skipToken: string | undefined;
    do {
      const page = await graph.listUsers({ skuId: trial.skuId, top: 999, ...(skipToken ? { skipToken } : {}) });
      for (const user of page.items) {
        const assigned = assignedDateTimeOf(user, trial.skuId, products);
        // Held through a group (also besides a direct assignment, which alone is removed here): only the group can remove it.
        if (assigned && trialExpiry(assigned, now).expired) {
          for (const groupId of groupLicenses(user).get(trial.skuId) ?? []) {
            const key = `${trial.skuId}|${groupId}`;
            const users = inheritedExpired.get(key);
            if (users) users.push(user.id);
            else inheritedExpired.set(key, [user.id]);
          }
        }
        if (!directLicenses(user).has(trial.skuId)) {
          report.skipped.push({ userId: user.id, skuId: trial.skuId, reason: "inherited from a group: the group's license is removed through the group" });
          continue;
        }
        if (!assigned) {
          report.skipped.push({ userId: user.id, skuId: trial.skuId, reason: "Graph reports no assignment date" });
          continue;
        }
        if (!trialExpiry(assigned, now).expired) continue;
        due.set(user.id, [...(due.get(user.id) ?? []), { skuId: trial.skuId, assignedDateTime: assigned }]);
      }
      skipToken = page.skipToken ?? undefined;
    } while (skipToken);
  }

  // The groups' names for the alerts (one read, only when a group keeps an expired trial).
  const groupNames = inheritedExpired.size && deps.alert ? new Map((await graph.listLicensedGroups()).map((g) => [g.id, g.displayName])) : new Map<string, string | null>();
  for (const [key, userIds] of inheritedExpired) {
    const [skuId, groupId] = key.split("|") as [string, string];
    const product = products.get(skuId);
    const groupName = groupNames.get(groupId.toLowerCase());
    await deps.alert?.({
      tenantId, source: "trial-expiry", code: "trial-expired-inherited", groupId, userIds,
      product: { skuId, skuPartNumber: product?.skuPartNumber ?? null, displayName: product?.displayName ?? null },
      message: `${userIds.length} user(s) hold ${product?.skuPartNumber ?? skuId}, a trial past its ${TRIAL_DAYS} days, through group ${groupName ? `"${groupName}" (${groupId})` : groupId}: ` +
        "it can only be removed through the group - remove the license from the group, or the users from it.",
    });
  }

  const users = [...due];
  for (let i = 0; i < users.length; i += MAX_BATCH_ITEMS) {
    if (await deps.isPaused(tenantId)) return { ...report, paused: true };
    const chunk = users.slice(i, i + MAX_BATCH_ITEMS);
    const { results } = await deps.assignments.assignLicensesBulk({
      tenantId,
      actor: TRIAL_EXPIRY_ACTOR,
      changes: chunk.map(([userId, trials]) => ({ userId, remove: trials.map((t) => t.skuId) })),
      mode: "add",
      reason: `trial expired (${TRIAL_DAYS} days after it was assigned)`,
      context: { rule: "L11", trials: Object.fromEntries(chunk) },
      graphMode: "background",
    });
    for (const r of results) {
      const trials = due.get(r.userId) ?? [];
      if (r.outcome === "succeeded") report.expired.push(...trials.map((t) => ({ userId: r.userId, ...t })));
      else if (r.outcome === "failed") {
        report.failed.push({ userId: r.userId, skuIds: trials.map((t) => t.skuId), code: r.error?.code ?? "error", message: r.error?.message ?? "" });
      }
    }
    // Throttled past even the background budget: stop here; the next run carries on.
    if (results.some((r) => r.error?.kind === "unavailable")) break;
  }
  return report;
}

/** Every onboarded tenant, one after the other; one tenant's failure does not stop the others. */
export async function expireTrialsForAllTenants(
  deps: TrialExpiryDeps,
  tenants: Container,
  now: Date,
  log: (entry: Record<string, unknown>) => void,
): Promise<TrialExpiryReport[]> {
  const ids = await activeTenantIds(tenants);
  const reports: TrialExpiryReport[] = [];
  for (const tenantId of ids) {
    try {
      const report = await expireTrials(deps, tenantId, now);
      reports.push(report);
      log({ event: "trial-expiry", tenantId, paused: report.paused, expired: report.expired.length, failed: report.failed.length, skipped: report.skipped.length });
    } catch (err) {
      log({ event: "trial-expiry", tenantId, error: err instanceof AppError ? `${err.kind}: ${err.message}` : String(err) });
    }
  }
  return reports;
}
