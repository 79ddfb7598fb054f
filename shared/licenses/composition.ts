import { getRuntime, type Runtime } from "../runtime.js";
import { budgetOf, type GraphMode } from "../clients/graph.js";
import { LicenseAssignments } from "./assign.js";
import { CatalogService } from "./catalog.js";
import { LicensingGraph } from "./graph-licensing.js";
import { LicenseRulesStore } from "./rules.js";
import { UserChangeLocks } from "./user-locks.js";
import type { TrialExpiryDeps } from "./trial-expiry.js";
import { isAutomationPaused } from "../settings/automation.js";
import { alertsFor } from "../alerts/composition.js";

/**
 * License administration's services, built once per process from the runtime (the composition
 * root): the catalog cache lives as long as the process.
 */
export interface Licensing {
  runtime: Runtime;
  catalog: CatalogService;
  rules: LicenseRulesStore;
  assignments: LicenseAssignments;
  graph(tenantId: string, mode?: GraphMode): LicensingGraph;
}

let built: Promise<Licensing> | undefined;

export function licensing(): Promise<Licensing> {
  built ??= getRuntime()
    .then(buildLicensing)
    .catch((err: unknown) => {
      built = undefined;
      throw err;
    });
  return built;
}

export function buildLicensing(runtime: Runtime): Licensing {
  const graph = (tenantId: string, mode: GraphMode = "interactive") =>
    new LicensingGraph(runtime.graph(tenantId, mode), { budget: budgetOf(mode) });
  const alerts = alertsFor(runtime);
  const catalog = new CatalogService({
    graph: (t) => graph(t),
    snapshots: runtime.container("catalog"),
    // L18: a refresh from Graph is checked against the low-stock threshold (in the background).
    onRefresh: (t, c) => void alerts.checkStock(t, c),
  });
  const rules = new LicenseRulesStore(runtime.container("settings"), runtime.audit);
  const locks = new UserChangeLocks(runtime.container("leases"));
  const assignments = new LicenseAssignments({ catalog, rules, audit: runtime.audit, graph, alerts, locks });
  return { runtime, catalog, rules, assignments, graph };
}

/** What the trial expiry (L11) needs; the pause switch (P11) comes from the tenant settings. */
export function trialExpiryDeps(l: Licensing): TrialExpiryDeps {
  const alerts = alertsFor(l.runtime);
  return { catalog: l.catalog, assignments: l.assignments, graph: (t) => l.graph(t, "background"), isPaused: isAutomationPaused, alert: (input) => alerts.licensingFailure(input) };
}
