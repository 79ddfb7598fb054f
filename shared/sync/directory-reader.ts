import { GraphError, type Client } from "@microsoft/microsoft-graph-client";
import { z } from "zod";
import { DIRECTORY_ROLES } from "../auth/roles.js";
import { MAX_BATCH_ITEMS, sendBatch, type BatchItemResult, type BatchRequestItem } from "../clients/graph-batch.js";
import { BACKGROUND_BUDGET, mapGraphError } from "../clients/graph.js";
import { parseUpstream } from "../clients/upstream-body.js";
import type { StagedMemberChange, StagedUser } from "./documents.js";
import { classifySkus } from "./licensing.js";
import { meter } from "./metrics.js";
import type { TenantFacts } from "./model.js";

/**
 * Reading the directory from Microsoft Graph: users/delta and groups/delta (the environments'
 * security groups, direct members only), and the facts read whole each cycle because delta does
 * not track them (subscribed products, directory role members, group owners).
 */
export const USER_SELECT = [
  "id", "userPrincipalName", "accountEnabled", "userType", "displayName", "givenName", "surname", "mail", "jobTitle", "mobilePhone",
  "businessPhones", "streetAddress", "city", "state", "country", "assignedLicenses",
] as const;

/** groups/delta takes at most this many ids in one `$filter`. */
export const GROUPS_PER_STREAM = 50;

export class DeltaGoneError extends Error {
  constructor() {
    super("The delta token is no longer valid (410 Gone): a full synchronization starts.");
    this.name = "DeltaGoneError";
  }
}

/**
 * A delta page's entries are checked to be objects, not copied: each property is read defensively
 * (`stagedUserOf`, `membershipChangesOf`), and `z.record` would copy every entry of every page
 * (~2 KiB per user, garbage the first sync of a large tenant makes by the hundred megabytes).
 */
const entrySchema = z.custom<Record<string, unknown>>((v) => typeof v === "object" && v !== null && !Array.isArray(v), { message: "expected an object" });
const deltaPageSchema = z.object({
  value: z.array(entrySchema),
  "@odata.nextLink": z.string().optional(),
  "@odata.deltaLink": z.string().optional(),
});

export interface DeltaPage<T> {
  items: T[];
  nextLink: string | null;
  deltaLink: string | null;
}

async function getPage(client: Client, url: string): Promise<z.infer<typeof deltaPageSchema>> {
  try {
    const raw: unknown = await meter.time("graph", () => client.api(url).get() as Promise<unknown>);
    return deltaPageSchema.parse(raw);
  } catch (err) {
    if (err instanceof GraphError && err.statusCode === 410) throw new DeltaGoneError();
    if (err instanceof z.ZodError) throw mapGraphError(new Error(`unexpected delta page: ${err.message}`), "Microsoft Graph (delta)");
    throw mapGraphError(err, "Microsoft Graph (delta)");
  }
}

export function initialUsersDeltaUrl(): string {
  return `/users/delta?$select=${USER_SELECT.join(",")}`;
}

export function initialGroupsDeltaUrl(groupIds: readonly string[]): string {
  const filter = groupIds.map((id) => `id eq '${id}'`).join(" or ");
  return `/groups/delta?$filter=${encodeURIComponent(filter)}&$select=id,displayName,members`;
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

/** One users/delta entry as a staged change (only the properties it carries). */
export function stagedUserOf(item: Record<string, unknown>): StagedUser | null {
  const id = str(item.id)?.toLowerCase();
  if (!id) return null;
  const removed = item["@removed"] as { reason?: unknown } | undefined;
  if (removed) return { id, removed: removed.reason === "deleted" ? "hard" : "soft" };
  const staged: StagedUser = { id };
  if ("userPrincipalName" in item) staged.upn = str(item.userPrincipalName) ?? "";
  if ("accountEnabled" in item) staged.accountEnabled = item.accountEnabled === true;
  if ("userType" in item) staged.userType = str(item.userType) ?? "Member";
  for (const key of ["displayName", "givenName", "surname", "mail", "jobTitle", "mobilePhone", "streetAddress", "city", "state", "country"] as const) {
    if (key in item) staged[key] = str(item[key]);
  }
  if ("businessPhones" in item) staged.businessPhone = Array.isArray(item.businessPhones) ? (str(item.businessPhones[0]) ?? null) : null;
  if ("assignedLicenses" in item && Array.isArray(item.assignedLicenses)) {
    staged.licenses = (item.assignedLicenses as { skuId?: unknown; disabledPlans?: unknown }[]).flatMap((l) =>
      typeof l.skuId === "string"
        ? [{ skuId: l.skuId.toLowerCase(), disabledPlans: Array.isArray(l.disabledPlans) ? l.disabledPlans.filter((p): p is string => typeof p === "string").map((p) => p.toLowerCase()) : [] }]
        : [],
    );
  }
  return staged;
}

export async function readUsersDeltaPage(client: Client, url: string): Promise<DeltaPage<StagedUser>> {
  const page = await getPage(client, url);
  return {
    items: page.value.map(stagedUserOf).filter((u): u is StagedUser => u !== null),
    nextLink: page["@odata.nextLink"] ?? null,
    deltaLink: page["@odata.deltaLink"] ?? null,
  };
}

export interface GroupDeltaItems {
  members: StagedMemberChange[];
  /** Groups reported deleted (their membership is gone). */
  deletedGroups: string[];
}

/** groups/delta entries as membership changes of users: nested groups and other objects are ignored (D2: direct members only). */
export function membershipChangesOf(value: readonly Record<string, unknown>[]): GroupDeltaItems {
  const members: StagedMemberChange[] = [];
  const deletedGroups: string[] = [];
  for (const group of value) {
    const g = str(group.id)?.toLowerCase();
    if (!g) continue;
    if (group["@removed"]) {
      deletedGroups.push(g);
      continue;
    }
    const delta = group["members@delta"];
    if (!Array.isArray(delta)) continue;
    for (const m of delta as Record<string, unknown>[]) {
      const type = str(m["@odata.type"]);
      const u = str(m.id)?.toLowerCase();
      if (!u || (type !== null && type !== "#microsoft.graph.user")) continue;
      members.push({ g, u, a: !m["@removed"] });
    }
  }
  return { members, deletedGroups };
}

export async function readGroupsDeltaPage(client: Client, url: string): Promise<DeltaPage<GroupDeltaItems>> {
  const page = await getPage(client, url);
  return { items: [membershipChangesOf(page.value)], nextLink: page["@odata.nextLink"] ?? null, deltaLink: page["@odata.deltaLink"] ?? null };
}

const skusSchema = z.object({
  value: z.array(
    z.object({
      skuId: z.string(),
      skuPartNumber: z.string(),
      capabilityStatus: z.string(),
      servicePlans: z.array(z.object({ servicePlanId: z.string(), servicePlanName: z.string() })).default([]),
    }),
  ),
});
const membersSchema = z.object({
  value: z.array(z.object({ id: z.string(), "@odata.type": z.string().optional() })),
  "@odata.nextLink": z.string().optional(),
});
type DirectoryObjectRef = z.infer<typeof membersSchema>["value"][number];

const ROLE_TEMPLATES = {
  global: DIRECTORY_ROLES["Global Administrator"],
  powerPlatform: DIRECTORY_ROLES["Power Platform Administrator"],
  dynamics: DIRECTORY_ROLES["Dynamics 365 Administrator"],
} as const;
type AdminRoleKey = keyof typeof ROLE_TEMPLATES;

/** Who a directory role names: the users holding it themselves, and the role-assignable groups holding it for their members. */
export interface RoleHolders {
  users: string[];
  groups: string[];
}

/**
 * A role's members by kind. A role assigned to a role-assignable group lists the group, not its
 * members, so groups are kept apart to be read; service principals (apps) are nobody to sync.
 * An entry without `@odata.type` is taken as a user: Graph types every member of a role (a
 * directoryObject collection), and the user cast of a group's members answers users only.
 */
export function roleHoldersOf(members: readonly DirectoryObjectRef[]): RoleHolders {
  const users: string[] = [];
  const groups: string[] = [];
  for (const m of members) {
    const type = m["@odata.type"];
    if (type === undefined || type === "#microsoft.graph.user") users.push(m.id.toLowerCase());
    else if (type === "#microsoft.graph.group") groups.push(m.id.toLowerCase());
  }
  return { users, groups };
}

/** The users holding each role: directly, or as members of a group holding it (D2's admin exception covers both). */
export function adminsOf(roles: Record<AdminRoleKey, RoleHolders>, groupUsers: ReadonlyMap<string, readonly string[]>): TenantFacts["admins"] {
  const usersOf = (r: RoleHolders) => [...new Set([...r.users, ...r.groups.flatMap((g) => groupUsers.get(g) ?? [])])].sort();
  return { global: usersOf(roles.global), powerPlatform: usersOf(roles.powerPlatform), dynamics: usersOf(roles.dynamics) };
}

/**
 * A role-assignable group's user members. Entra refuses groups inside a role-assignable group, so
 * direct members are all its members; the OData cast leaves out anything that is not a user.
 */
export function groupUsersUrl(groupId: string): string {
  return `/groups/${groupId}/members/microsoft.graph.user?$select=id&$top=999`;
}

/** Reads GET requests in Graph `$batch`es of 20 (background budget); one answer per item id. */
async function readInBatches(client: Client, items: readonly BatchRequestItem[]): Promise<Map<string, BatchItemResult>> {
  const results = new Map<string, BatchItemResult>();
  for (let i = 0; i < items.length; i += MAX_BATCH_ITEMS) {
    const answers = await meter.time("graph", () => sendBatch(client, items.slice(i, i + MAX_BATCH_ITEMS), { budget: BACKGROUND_BUDGET }));
    for (const [id, r] of answers) results.set(id, r);
  }
  return results;
}

/**
 * The facts delta does not track, read in one Graph `$batch` per 20 requests: subscribed products
 * (the license table), the members of the three admin roles D2 names, and each tracked group's owners.
 * Roles held by role-assignable groups cost one more `$batch` for those groups' members; a tenant
 * whose roles name no group pays nothing for it.
 */
export async function readTenantFacts(client: Client, trackedGroups: readonly string[]): Promise<TenantFacts> {
  const results = await readInBatches(client, [
    { id: "skus", method: "GET", url: "/subscribedSkus" },
    ...Object.entries(ROLE_TEMPLATES).map(([key, template]) => ({ id: `role:${key}`, method: "GET" as const, url: `/directoryRoles(roleTemplateId='${template}')/members?$select=id` })),
    ...trackedGroups.map((g) => ({ id: `owners:${g}`, method: "GET" as const, url: `/groups/${g}/owners?$select=id` })),
  ]);
  const skus = classifySkus(parseUpstream(skusSchema, bodyOf(results, "skus", false), "Microsoft Graph (subscribedSkus)").value);
  const owners: Record<string, string[]> = {};
  for (const g of trackedGroups) owners[g] = (await membersOf(client, results, `owners:${g}`)).map((o) => o.id.toLowerCase()).sort();
  const roles = {} as Record<AdminRoleKey, RoleHolders>;
  for (const key of Object.keys(ROLE_TEMPLATES) as AdminRoleKey[]) roles[key] = roleHoldersOf(await membersOf(client, results, `role:${key}`));
  const roleGroups = [...new Set(Object.values(roles).flatMap((r) => r.groups))].sort();
  return { skus: skus.skus, marketing: skus.marketing, admins: adminsOf(roles, await readGroupUsers(client, roleGroups)), owners };
}

/** Each group's user members (none read when there are no groups). */
async function readGroupUsers(client: Client, groupIds: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!groupIds.length) return out;
  const results = await readInBatches(client, groupIds.map((g) => ({ id: `members:${g}`, method: "GET" as const, url: groupUsersUrl(g) })));
  // The cast already leaves out other objects; roleHoldersOf keeps only users should one still come.
  for (const g of groupIds) out.set(g, roleHoldersOf(await membersOf(client, results, `members:${g}`)).users);
  return out;
}

/** The body of a batch item that succeeded (a 404 as empty where allowed); otherwise the failure as the app's error. */
function bodyOf(results: ReadonlyMap<string, BatchItemResult>, id: string, allowNotFound: boolean): unknown {
  const r = results.get(id);
  if (r && r.status >= 200 && r.status < 300) return r.body;
  if (r && r.status === 404 && allowNotFound) return { value: [] };
  const error = new GraphError(r?.status ?? 502, `Microsoft Graph answered ${r?.status ?? "nothing"} for ${id}`);
  // Still throttled past the budget: the item's own Retry-After, so the retry waits as long as Graph asked.
  if (r?.retryAfterSeconds !== undefined) error.headers = new Headers({ "retry-after": String(r.retryAfterSeconds) });
  throw mapGraphError(error, "Microsoft Graph ($batch)");
}

/** Every entry of a batch item's collection, following @odata.nextLink (a 404 - the object is gone - is empty). */
async function membersOf(client: Client, results: ReadonlyMap<string, BatchItemResult>, id: string): Promise<DirectoryObjectRef[]> {
  const first = parseUpstream(membersSchema, bodyOf(results, id, true), "Microsoft Graph (directory objects)");
  const out = [...first.value];
  let next = first["@odata.nextLink"];
  while (next) {
    const page = parseUpstream(membersSchema, await meter.time("graph", () => client.api(next as string).get() as Promise<unknown>), "Microsoft Graph (directory objects)");
    out.push(...page.value);
    next = page["@odata.nextLink"];
  }
  return out;
}
