import type { Container } from "@azure/cosmos";
import type { LicensingFailureInput } from "../alerts/alerts.js";
import { alertsFor } from "../alerts/composition.js";
import type { Licensing } from "./composition.js";
import { AppError } from "../errors/app-error.js";
import { activeTenantIds } from "../tenants/tenant-registry.js";
import type { Catalog } from "./model.js";
import type { LicensingGraph } from "./graph-licensing.js";
import { groupLicenseErrorsPage, type GroupErrorsPosition, type GroupLicenseErrorRow } from "./reports.js";

/**
 * L18 + L20: group-based licensing errors raise an alert when they exist, not when a license change
 * happens to touch a user in error. A timer walks each tenant's licensed groups (the L20 report's
 * reading) and raises one licensing-failure alert per group and product in error, with its users;
 * the alert service keeps one alert per group and product a day and counts repeats on it.
 */
export interface GroupLicensingCheckDeps {
  graph: LicensingGraph;
  catalog: Catalog;
  raise(input: LicensingFailureInput): Promise<void>;
}

/** Rows per report page read (the scan reads every page). */
const SCAN_PAGE = 500;

export async function checkGroupLicensing(deps: GroupLicensingCheckDeps, tenantId: string): Promise<{ errors: number; alerts: number }> {
  const byGroupAndProduct = new Map<string, GroupLicenseErrorRow[]>();
  let position: GroupErrorsPosition | undefined;
  let errors = 0;
  do {
    const page = await groupLicenseErrorsPage(deps, { limit: SCAN_PAGE, ...(position ? { position } : {}) });
    for (const row of page.items) {
      const key = `${row.groupId}|${row.skuId}`;
      const rows = byGroupAndProduct.get(key);
      if (rows) rows.push(row);
      else byGroupAndProduct.set(key, [row]);
      errors++;
    }
    position = page.next ?? undefined;
  } while (position);
  for (const rows of byGroupAndProduct.values()) {
    const [first] = rows as [GroupLicenseErrorRow];
    const product = deps.catalog.products.find((p) => p.skuId === first.skuId);
    const kinds = [...new Set(rows.map((r) => r.error))];
    const group = first.groupName ? `"${first.groupName}" (${first.groupId})` : first.groupId;
    await deps.raise({
      tenantId,
      source: "group-licensing",
      code: "group-licensing-error",
      groupId: first.groupId,
      product: { skuId: first.skuId, skuPartNumber: product?.skuPartNumber ?? first.skuPartNumber, displayName: product?.displayName ?? null },
      userIds: rows.map((r) => r.userId),
      message:
        `Group-based licensing could not assign ${first.skuPartNumber} to ${rows.length} user(s) from group ${group}: ${kinds.join(", ")}.` +
        (kinds.length === 1 ? ` ${first.reason}` : " The L20 report gives each user's reason."),
    });
  }
  return { errors, alerts: byGroupAndProduct.size };
}

/** Every active tenant whose alerts are on, one after the other; one tenant's failure does not stop the others. */
export async function checkGroupLicensingForAllTenants(
  tenants: Container,
  forTenant: (tenantId: string) => Promise<GroupLicensingCheckDeps | null>,
  log: (entry: Record<string, unknown>) => void,
): Promise<void> {
  const ids = await activeTenantIds(tenants);
  for (const tenantId of ids) {
    try {
      const deps = await forTenant(tenantId);
      if (!deps) continue; // alerts off: nothing to raise, no Graph read
      log({ event: "group-licensing-check", tenantId, ...(await checkGroupLicensing(deps, tenantId)) });
    } catch (err) {
      log({ event: "group-licensing-check", tenantId, error: err instanceof AppError ? `${err.kind}: ${err.message}` : String(err) });
    }
  }
}

/** The scan's dependencies for a tenant, or null when the tenant's alerts are off (nothing to raise, no Graph read). */
export function groupLicensingCheckFor(l: Licensing): (tenantId: string) => Promise<GroupLicensingCheckDeps | null> {
  const alerts = alertsFor(l.runtime);
  return async (tenantId) => {
    if (!(await l.runtime.settings.current(tenantId, "alerts")).enabled) return null;
    return { graph: l.graph(tenantId, "background"), catalog: await l.catalog.get(tenantId), raise: (input) => alerts.licensingFailure(input) };
  };
}
