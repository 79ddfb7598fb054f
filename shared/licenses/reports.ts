import type { Container } from "@azure/cosmos";
import { z } from "zod";
import { MAX_BATCH_ITEMS } from "../clients/graph-batch.js";
import { toCsv } from "./csv.js";
import type { GraphUser, LicensingGraph, UserRead } from "./graph-licensing.js";
import { isActive, isErrorFree, productIndex, statesOf } from "./license-state.js";
import type { Catalog, Product } from "./model.js";
import { TRACKED_PRODUCTS, trackedProductSchema, usageOfUsers, usagePage, type TrackedProduct, type UsageRecord } from "./usage.js";

/**
 * How a user is licensed for a tracked product (L13 "license type"): the spec's four, and the free
 * plans (Power Automate Free: a tracking plan, L12 - the catalog's kind "free", not a trial).
 */
export const licenseTypeSchema = z.enum(["trial", "office365", "dynamics365", "standalone", "free", "unknown"]);
export type LicenseType = z.infer<typeof licenseTypeSchema>;

export const LICENSE_TYPE_LABELS: Record<LicenseType, string> = {
  trial: "Trial",
  office365: "Via Office 365 plan",
  dynamics365: "Via Dynamics 365 plan",
  standalone: "Standalone plan",
  free: "Free plan",
  unknown: "Unknown",
};

/** When several licenses give access, the most specific one is reported. */
const PRIORITY: LicenseType[] = ["standalone", "dynamics365", "office365", "trial", "free"];

function classify(planName: string, product: Product): LicenseType {
  if (product.kind === "free") return "free"; // its plans are named like a trial's (FLOW_P2_VIRAL)
  if (product.kind === "trial" || /VIRAL|TRIAL/i.test(planName)) return "trial";
  if (/DYN|D365/i.test(planName) || /^(DYN365|D365)/i.test(product.skuPartNumber)) return "dynamics365";
  if (/O365|M365|OFFICE/i.test(planName)) return "office365";
  return "standalone";
}

/** How the user is licensed for the product (an enabled plan of an active license), or undefined. */
export function licenseTypeFor(user: GraphUser, tracked: TrackedProduct, products: ReadonlyMap<string, Product>): LicenseType | undefined {
  const pattern = TRACKED_PRODUCTS[tracked].planPattern;
  const found = new Set<LicenseType>();
  for (const s of statesOf(user)) {
    if (!isActive(s)) continue;
    const product = products.get(s.skuId);
    for (const plan of product?.servicePlans ?? []) {
      if (s.disabledPlans.includes(plan.servicePlanId) || !pattern.test(plan.servicePlanName)) continue;
      found.add(classify(plan.servicePlanName, product as Product));
    }
  }
  return PRIORITY.find((t) => found.has(t));
}

/** Skus that license the user for the product. */
function licensingSkus(user: GraphUser, tracked: TrackedProduct, products: ReadonlyMap<string, Product>): string[] {
  const pattern = TRACKED_PRODUCTS[tracked].planPattern;
  const skus = new Set<string>();
  for (const s of statesOf(user)) {
    if (!isActive(s)) continue;
    const plans = products.get(s.skuId)?.servicePlans ?? [];
    if (plans.some((p) => !s.disabledPlans.includes(p.servicePlanId) && pattern.test(p.servicePlanName))) skus.add(s.skuId);
  }
  return [...skus];
}

// ---------------------------------------------------------------------------------------------
// L13 Active-user license report

export const activeUserRowSchema = z.object({
  userId: z.string(),
  name: z.string(),
  email: z.string(),
  product: trackedProductSchema,
  productName: z.string(),
  licenseType: licenseTypeSchema,
  firstAccessAt: z.string(),
  lastAccessAt: z.string(),
});
export type ActiveUserRow = z.infer<typeof activeUserRowSchema>;

export interface ReportDeps {
  usage: Container;
  graph: LicensingGraph;
  catalog: Catalog;
}

const UNKNOWN = "Unknown";

/**
 * Users licensed for a tracked product AND seen using it (a usage record). A user Graph answers
 * 404 for (left the organisation) shows `Unknown`; any other failure fails the report, so
 * `Unknown` never hides a throttled or failed read.
 */
export async function activeUserLicenseRows(deps: ReportDeps, tenantId: string): Promise<ActiveUserRow[]> {
  const products = productIndex(deps.catalog);
  const rows: ActiveUserRow[] = [];
  let token: string | null = null;
  do {
    const page = await usagePage(deps.usage, tenantId, 200, token);
    token = page.continuationToken;
    const userIds = [...new Set(page.items.map((r) => r.userId))];
    const reads = new Map<string, UserRead>();
    for (let i = 0; i < userIds.length; i += MAX_BATCH_ITEMS) {
      for (const [id, read] of await deps.graph.readUsers(userIds.slice(i, i + MAX_BATCH_ITEMS))) reads.set(id, read);
    }
    for (const record of page.items) {
      const read = reads.get(record.userId);
      if (!read) continue;
      if (!read.ok) {
        if (read.status !== 404) throw read.error;
        rows.push(row(record, UNKNOWN, UNKNOWN, "unknown"));
        continue;
      }
      const type = licenseTypeFor(read.user, record.product, products);
      if (!type) continue;
      const u = read.user;
      rows.push(row(record, u.displayName ?? u.userPrincipalName ?? UNKNOWN, u.mail ?? u.userPrincipalName ?? "", type));
    }
  } while (token);
  return rows.sort((a, b) => a.name.localeCompare(b.name) || a.productName.localeCompare(b.productName) || a.userId.localeCompare(b.userId));
}

function row(r: UsageRecord, name: string, email: string, licenseType: LicenseType): ActiveUserRow {
  return {
    userId: r.userId,
    name,
    email,
    product: r.product,
    productName: TRACKED_PRODUCTS[r.product].displayName,
    licenseType,
    firstAccessAt: r.firstAccessAt,
    lastAccessAt: r.lastAccessAt,
  };
}

export const ACTIVE_USER_CSV_HEADER = ["User name", "Email", "Product", "License type", "First access", "Last access", "User id"] as const;

export function activeUserRowsCsv(rows: readonly ActiveUserRow[]): string {
  return toCsv(
    ACTIVE_USER_CSV_HEADER,
    rows.map((r) => [r.name, r.email, r.productName, LICENSE_TYPE_LABELS[r.licenseType], r.firstAccessAt, r.lastAccessAt, r.userId]),
  );
}

// ---------------------------------------------------------------------------------------------
// L19 Unused licenses

export const unusedLicenseRowSchema = z.object({
  userId: z.string(),
  displayName: z.string().nullable(),
  userPrincipalName: z.string().nullable(),
  product: trackedProductSchema,
  productName: z.string(),
  /** The licenses that give the user the product. */
  skuIds: z.array(z.string()),
  /** Null: never used. */
  lastAccessAt: z.string().nullable(),
  daysSinceLastUse: z.number().int().nullable(),
});
export type UnusedLicenseRow = z.infer<typeof unusedLicenseRowSchema>;

/**
 * Where an unused-licenses page stopped: the Graph users page it was reading (null: the first), the
 * users of it already reported, and the rows of the next user already reported (a user with more
 * unused products than `limit`).
 */
export interface UnusedPosition {
  s: string | null;
  o: number;
  r?: number;
}

/** Users read per Graph page: constant, so a position inside a page stays valid whatever `limit` the next request asks for. */
const UNUSED_USERS_PAGE = 100;
/** Graph pages one report page reads at most before it answers with what it found and a cursor. */
const UNUSED_MAX_READS = 20;

/**
 * One page of licensed users who have not used a tracked product for `days` days (or never),
 * walking Graph's user list: at most `limit` rows; the position points into the users page it
 * stopped in.
 */
export async function unusedLicensesPage(
  deps: ReportDeps,
  tenantId: string,
  options: { days: number; product?: TrackedProduct; limit: number; position?: UnusedPosition; now: Date },
): Promise<{ items: UnusedLicenseRow[]; next: UnusedPosition | null }> {
  const products = productIndex(deps.catalog);
  const tracked = options.product ? [options.product] : trackedProductSchema.options;
  const cutoff = options.now.getTime() - options.days * 86_400_000;
  const items: UnusedLicenseRow[] = [];
  let position: UnusedPosition = options.position ?? { s: null, o: 0 };
  for (let reads = 0; reads < UNUSED_MAX_READS; reads++) {
    const page = await deps.graph.listUsers({ top: UNUSED_USERS_PAGE, ...(position.s ? { skipToken: position.s } : {}) });
    const users = page.items.slice(position.o);
    const candidates = users.map((user) =>
      tracked.map((product) => ({ user, product, skuIds: licensingSkus(user, product, products) })).filter((c) => c.skuIds.length > 0),
    );
    const usage = await usageOfUsers(deps.usage, tenantId, [...new Set(candidates.flat().map((c) => c.user.id))]);
    const last = new Map(usage.map((u) => [`${u.userId}|${u.product}`, u.lastAccessAt]));
    for (let i = 0; i < users.length; i++) {
      const rows = candidates[i]!
        .flatMap((c): UnusedLicenseRow[] => {
          const lastAccessAt = last.get(`${c.user.id}|${c.product}`) ?? null;
          if (lastAccessAt && Date.parse(lastAccessAt) >= cutoff) return [];
          return [{
            userId: c.user.id,
            displayName: c.user.displayName,
            userPrincipalName: c.user.userPrincipalName,
            product: c.product,
            productName: TRACKED_PRODUCTS[c.product].displayName,
            skuIds: c.skuIds,
            lastAccessAt,
            daysSinceLastUse: lastAccessAt ? Math.floor((options.now.getTime() - Date.parse(lastAccessAt)) / 86_400_000) : null,
          }];
        });
      const at = position.o + i;
      for (let k = i === 0 ? (position.r ?? 0) : 0; k < rows.length; k++) {
        if (items.length >= options.limit) return { items, next: { s: position.s, o: at, r: k } };
        items.push(rows[k]!);
      }
      if (items.length >= options.limit) {
        if (at + 1 < page.items.length) return { items, next: { s: position.s, o: at + 1 } };
        return { items, next: page.skipToken ? { s: page.skipToken, o: 0 } : null };
      }
    }
    if (!page.skipToken) return { items, next: null };
    position = { s: page.skipToken, o: 0 };
  }
  return { items, next: position };
}

// ---------------------------------------------------------------------------------------------
// L20 Group-licensing errors

export const groupLicenseErrorSchema = z.enum([
  "CountViolation", "MutuallyExclusiveViolation", "DependencyViolation", "ProhibitedInUsageLocationViolation", "UniquenessViolation", "Other",
]);

export const GROUP_ERROR_REASONS: Record<z.infer<typeof groupLicenseErrorSchema>, string> = {
  CountViolation: "Not enough licenses for everyone in the group: buy more or free some up; Entra retries when units are available.",
  MutuallyExclusiveViolation: "The group's license has a service plan that conflicts with another license of the user: switch one of the plans off or remove the other license.",
  DependencyViolation: "A service plan of the group's license needs a plan the user does not have: add a license with it first.",
  ProhibitedInUsageLocationViolation: "The product is not available in the user's usage location.",
  UniquenessViolation: "A value that must be unique (e.g. a proxy address) conflicts with another object.",
  Other: "See the user's licenses in the Microsoft 365 admin center for details.",
};

export const groupLicenseErrorRowSchema = z.object({
  userId: z.string(),
  displayName: z.string().nullable(),
  userPrincipalName: z.string().nullable(),
  groupId: z.string(),
  groupName: z.string().nullable(),
  skuId: z.string(),
  skuPartNumber: z.string(),
  error: z.string(),
  reason: z.string(),
  lastUpdatedDateTime: z.string().nullable(),
});
export type GroupLicenseErrorRow = z.infer<typeof groupLicenseErrorRowSchema>;

export interface GroupErrorsPosition {
  /** Index of the group in the licensed-groups list. */
  g: number;
  /** The skip token of the members page being read (null: the group's first page). */
  s: string | null;
  /** Members of that page already reported. */
  o?: number;
}

/** Members read per Graph page (most have no error: a page of the report may take several). */
const GROUP_MEMBERS_PAGE = 100;
/** Graph pages one report page reads at most before it answers with what it found and a cursor. */
const GROUP_ERRORS_MAX_READS = 20;

/**
 * One page of users whose group-based licenses failed (`licenseAssignmentStates[].error`), walking
 * the licensed groups' direct members (group licensing does not pass licenses to nested groups).
 * A page holds up to `limit` rows across groups (a user's rows are never split); the cursor points
 * into the members page it stopped in.
 */
export async function groupLicenseErrorsPage(
  deps: { graph: LicensingGraph; catalog: Catalog },
  options: { limit: number; position?: GroupErrorsPosition },
): Promise<{ items: GroupLicenseErrorRow[]; next: GroupErrorsPosition | null }> {
  const products = productIndex(deps.catalog);
  const groups = await deps.graph.listLicensedGroups();
  let position: GroupErrorsPosition = options.position ?? { g: 0, s: null };
  const items: GroupLicenseErrorRow[] = [];
  for (let reads = 0; position.g < groups.length && reads < GROUP_ERRORS_MAX_READS; reads++) {
    const group = groups[position.g]!;
    const page = await deps.graph.listGroupMemberUsers(group.id, { top: GROUP_MEMBERS_PAGE, ...(position.s ? { skipToken: position.s } : {}) });
    for (let i = position.o ?? 0; i < page.items.length; i++) {
      const user = page.items[i]!;
      const rows = user.licenseAssignmentStates
        .filter((st) => st.assignedByGroup === group.id && !isErrorFree(st.error))
        .map((st): GroupLicenseErrorRow => {
          const error = groupLicenseErrorSchema.safeParse(st.error);
          return {
            userId: user.id,
            displayName: user.displayName,
            userPrincipalName: user.userPrincipalName,
            groupId: group.id,
            groupName: group.displayName,
            skuId: st.skuId,
            skuPartNumber: products.get(st.skuId)?.skuPartNumber ?? st.skuId,
            error: st.error ?? "Other",
            reason: GROUP_ERROR_REASONS[error.success ? error.data : "Other"],
            lastUpdatedDateTime: st.lastUpdatedDateTime,
          };
        });
      if (rows.length && items.length && items.length + rows.length > options.limit) {
        return { items, next: { g: position.g, s: position.s, o: i } };
      }
      items.push(...rows);
      if (items.length >= options.limit) {
        const next = i + 1 < page.items.length ? { g: position.g, s: position.s, o: i + 1 } : after(position, page.skipToken);
        return { items, next: next.g < groups.length ? next : null };
      }
    }
    position = after(position, page.skipToken);
  }
  return { items, next: position.g < groups.length ? position : null };
}

/** The position after a members page: its next page, or the next group. */
function after(position: GroupErrorsPosition, skipToken: string | null): GroupErrorsPosition {
  return skipToken ? { g: position.g, s: skipToken, o: 0 } : { g: position.g + 1, s: null, o: 0 };
}
