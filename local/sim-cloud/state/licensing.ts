import { SimError } from "../http/errors.js";
import type { Directory } from "./directory.js";
import type { LicenseAssignmentError, LicenseState, SkuRec, UserRec } from "./types.js";

export interface AssignLicenseBody {
  addLicenses: Array<{ skuId: string; disabledPlans?: string[] | null }>;
  removeLicenses: string[];
}

const bad = (message: string) => new SimError(400, "Request_BadRequest", message);

function isActive(s: LicenseState): boolean {
  return s.state === "Active" || s.state === "ActiveWithError";
}

/** Service plans a set of license states switches on. */
function enabledPlans(dir: Directory, states: readonly LicenseState[]): Set<string> {
  const out = new Set<string>();
  for (const s of states) {
    if (!isActive(s)) continue;
    const sku = dir.skus.get(s.skuId);
    for (const p of sku?.servicePlans ?? []) if (!s.disabledPlans.includes(p.servicePlanId)) out.add(p.servicePlanId);
  }
  return out;
}

function planConflict(dir: Directory, plans: Set<string>, changed: Set<string>): [string, string] | undefined {
  return dir.mutuallyExclusive.find(([a, b]) => plans.has(a) && plans.has(b) && (changed.has(a) || changed.has(b)));
}

function missingDependency(dir: Directory, plans: Set<string>, before: Set<string>): [string, string[]] | undefined {
  for (const plan of plans) {
    const requires = dir.dependencies.get(plan);
    if (!requires || requires.some((r) => plans.has(r))) continue;
    const wasSatisfied = !before.has(plan) || requires.some((r) => before.has(r));
    if (wasSatisfied) return [plan, requires];
  }
  return undefined;
}

/**
 * POST /users/{id}/assignLicense with Graph's checks, in Graph's order of surprise:
 * unknown SKU, self-service purchase, license not held / inherited from a group, missing usage
 * location, unknown disabled plan, no available units, mutually exclusive plans, missing
 * prerequisite plan. Re-sending an assigned SKU replaces its disabledPlans.
 */
export function assignLicense(dir: Directory, user: UserRec, body: AssignLicenseBody): void {
  const adds = body.addLicenses.map((a) => ({ skuId: a.skuId.toLowerCase(), disabledPlans: (a.disabledPlans ?? []).map((p) => p.toLowerCase()) }));
  const removes = body.removeLicenses.map((r) => r.toLowerCase());
  const allSkus = [...adds.map((a) => a.skuId), ...removes];
  for (const skuId of allSkus) {
    if (!dir.skus.has(skuId)) throw bad(`License ${skuId} does not correspond to a valid company License.`);
  }
  for (const skuId of allSkus) {
    const sku = dir.skus.get(skuId) as SkuRec;
    if (sku.subscription.ownerType === "User") {
      // Graph's exact answer here is not documented; the simulation refuses with 403 (see docs/sim-cloud.md).
      throw new SimError(403, "Authorization_RequestDenied",
        `License ${skuId} (${sku.skuPartNumber}) belongs to a self-service purchase subscription owned by a user; an administrator cannot assign or remove its licenses until the subscription is taken over.`);
    }
  }
  if (new Set(allSkus).size !== allSkus.length) throw bad("License assignment failed: the same SKU cannot be added and removed, or added twice, in one request.");

  const direct = user.licenses.filter((l) => l.assignedByGroup === null);
  for (const skuId of removes) {
    if (direct.some((l) => l.skuId === skuId)) continue;
    if (user.licenses.some((l) => l.skuId === skuId)) throw bad("User license is inherited from a group membership and it cannot be removed directly from the user.");
    throw bad(`User does not have a corresponding license: ${skuId}.`);
  }
  if (adds.length && !user.usageLocation) throw bad("License assignment cannot be done for user with invalid usage location.");
  for (const a of adds) {
    const plans = dir.planSet(a.skuId);
    const unknown = a.disabledPlans.find((p) => !plans.has(p));
    if (unknown) throw bad(`Service plan ${unknown} is not part of the license ${a.skuId} and cannot be disabled.`);
  }

  const consumedBefore = dir.activeSkus(user);
  for (const a of adds) {
    if (consumedBefore.has(a.skuId)) continue;
    const sku = dir.skus.get(a.skuId) as SkuRec;
    if (dir.availableUnits(sku) <= 0) throw bad(`Subscription with SKU ${a.skuId} does not have any available licenses.`);
  }

  const now = dir.nowIso();
  let next: LicenseState[] = user.licenses.filter((l) => !(l.assignedByGroup === null && removes.includes(l.skuId)));
  for (const a of adds) {
    const existing = next.find((l) => l.assignedByGroup === null && l.skuId === a.skuId);
    const state: LicenseState = {
      skuId: a.skuId,
      disabledPlans: a.disabledPlans,
      assignedByGroup: null,
      state: "Active",
      error: "None",
      lastUpdatedDateTime: now,
      assignedDateTime: existing?.assignedDateTime ?? now,
    };
    next = existing ? next.map((l) => (l === existing ? state : l)) : [...next, state];
  }

  const before = enabledPlans(dir, user.licenses);
  const after = enabledPlans(dir, next);
  const changed = new Set<string>();
  for (const p of after) if (!before.has(p)) changed.add(p);
  for (const a of adds) for (const p of dir.planSet(a.skuId)) if (after.has(p)) changed.add(p);
  const conflict = planConflict(dir, after, changed);
  if (conflict) throw bad(`License assignment failed because service plans ${conflict[0]},${conflict[1]} are mutually exclusive.`);
  const dependency = missingDependency(dir, after, before);
  if (dependency) throw bad(`License assignment failed because service plan ${dependency[0]} depends on the service plan(s) ${dependency[1].join(",")}.`);

  dir.setLicenseStates(user, next);
  evaluateGroupLicenses(dir, user);
}

/**
 * Group-based licensing for one user: every licensed group the user is a direct member of
 * (nested groups do not pass licenses on) yields one assignment state; failures are recorded
 * as licenseAssignmentStates[].error, never thrown.
 */
export function evaluateGroupLicenses(dir: Directory, user: UserRec): void {
  const groupIds = dir.memberOf.get(user.id);
  const hadGroupStates = user.licenses.some((l) => l.assignedByGroup !== null);
  if (!groupIds?.size && !hadGroupStates) return;
  const now = dir.nowIso();
  const next: LicenseState[] = user.licenses.filter((l) => l.assignedByGroup === null);
  const consumedBefore = dir.activeSkus(user);
  for (const gid of groupIds ?? []) {
    const group = dir.groups.get(gid);
    if (!group) continue;
    for (const lic of group.assignedLicenses) {
      const existing = user.licenses.find((l) => l.assignedByGroup === gid && l.skuId === lic.skuId);
      const samePlans = existing && existing.disabledPlans.join(",") === lic.disabledPlans.join(",");
      if (existing && isActive(existing) && samePlans) {
        next.push(existing);
        continue;
      }
      const error = groupAssignmentError(dir, user, lic.skuId, lic.disabledPlans, next, consumedBefore);
      next.push({
        skuId: lic.skuId,
        disabledPlans: lic.disabledPlans,
        assignedByGroup: gid,
        state: error === "None" ? "Active" : "Error",
        error,
        lastUpdatedDateTime: existing && existing.error === error ? existing.lastUpdatedDateTime : now,
        assignedDateTime: existing?.assignedDateTime ?? now,
      });
    }
  }
  dir.setLicenseStates(user, next);
}

function groupAssignmentError(
  dir: Directory, user: UserRec, skuId: string, disabledPlans: string[], others: LicenseState[], consumedBefore: Set<string>,
): LicenseAssignmentError {
  const sku = dir.skus.get(skuId);
  if (!sku) return "Other";
  const alreadyConsumed = consumedBefore.has(skuId) || others.some((o) => o.skuId === skuId && isActive(o));
  if (!alreadyConsumed && !user.deletedDateTime && dir.availableUnits(sku) <= 0) return "CountViolation";
  const candidate: LicenseState = {
    skuId, disabledPlans, assignedByGroup: "x", state: "Active", error: "None", lastUpdatedDateTime: "", assignedDateTime: "",
  };
  const before = enabledPlans(dir, others);
  const after = enabledPlans(dir, [...others, candidate]);
  const mine = new Set<string>();
  for (const p of sku.servicePlans) if (!disabledPlans.includes(p.servicePlanId)) mine.add(p.servicePlanId);
  if (planConflict(dir, after, mine)) return "MutuallyExclusiveViolation";
  if (missingDependency(dir, after, before)) return "DependencyViolation";
  return "None";
}

/** Re-evaluates group licensing for every direct member user of the group. */
export function evaluateGroupMembers(dir: Directory, groupId: string): void {
  const group = dir.groups.get(groupId);
  if (!group) return;
  for (const id of group.memberOrder) {
    const user = dir.users.get(id);
    if (user) evaluateGroupLicenses(dir, user);
  }
}

/** Retries failed group assignments (after units were added, a conflict was removed, ...). */
export function reprocessFailedGroupLicenses(dir: Directory): void {
  for (const user of dir.userOrder) {
    if (user.licenses.some((l) => l.assignedByGroup !== null && l.state === "Error")) evaluateGroupLicenses(dir, user);
  }
}
