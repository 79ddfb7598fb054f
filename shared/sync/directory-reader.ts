import { GraphError, type Client } from "@microsoft/microsoft-graph-client";
import { z } from "zod";
import { DIRECTORY_ROLES } from "../auth/roles.js";
import { sendBatch, type BatchItemResult, type BatchRequestItem } from "../clients/graph-batch.js";
import { BACKGROUND_BUDGET, mapGraphError } from "../clients/graph.js";
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

const deltaPageSchema = z.object({
  value: z.array(z.record(z.string(), z.unknown())),
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
const idsSchema = z.object({ value: z.array(z.object({ id: z.string() })), "@odata.nextLink": z.string().optional() });

const ROLE_TEMPLATES = {
  global: DIRECTORY_ROLES["Global Administrator"],
  powerPlatform: DIRECTORY_ROLES["Power Platform Administrator"],
  dynamics: DIRECTORY_ROLES["Dynamics 365 Administrator"],
} as const;

/**
 * The facts delta does not track, read in one Graph `$batch` per 20 requests: subscribed products
 * (the license table), the members of the three admin roles D2 names, and each tracked group's owners.
 */
export async function readTenantFacts(client: Client, trackedGroups: readonly string[]): Promise<TenantFacts> {
  const items: BatchRequestItem[] = [
    { id: "skus", method: "GET", url: "/subscribedSkus" },
    ...Object.entries(ROLE_TEMPLATES).map(([key, template]) => ({ id: `role:${key}`, method: "GET" as const, url: `/directoryRoles(roleTemplateId='${template}')/members?$select=id` })),
    ...trackedGroups.map((g) => ({ id: `owners:${g}`, method: "GET" as const, url: `/groups/${g}/owners?$select=id` })),
  ];
  const results = new Map<string, BatchItemResult>();
  for (let i = 0; i < items.length; i += 20) {
    const answers = await meter.time("graph", () => sendBatch(client, items.slice(i, i + 20), { budget: BACKGROUND_BUDGET }));
    for (const [id, r] of answers) results.set(id, r);
  }
  const bodyOf = (id: string, allowNotFound: boolean): unknown => {
    const r = results.get(id);
    if (r && r.status >= 200 && r.status < 300) return r.body;
    if (r && r.status === 404 && allowNotFound) return { value: [] };
    const error = new GraphError(r?.status ?? 502, `Microsoft Graph answered ${r?.status ?? "nothing"} for ${id}`);
    // Still throttled past the budget: the item's own Retry-After, so the retry waits as long as Graph asked.
    if (r?.retryAfterSeconds !== undefined) error.headers = new Headers({ "retry-after": String(r.retryAfterSeconds) });
    throw mapGraphError(error, "Microsoft Graph ($batch)");
  };
  const skus = classifySkus(skusSchema.parse(bodyOf("skus", false)).value);
  const idsOf = async (id: string): Promise<string[]> => {
    const first = idsSchema.parse(bodyOf(id, true));
    const out = first.value.map((v) => v.id.toLowerCase());
    let next = first["@odata.nextLink"];
    while (next) {
      const page = idsSchema.parse(await meter.time("graph", () => client.api(next as string).get() as Promise<unknown>));
      out.push(...page.value.map((v) => v.id.toLowerCase()));
      next = page["@odata.nextLink"];
    }
    return out.sort();
  };
  const owners: Record<string, string[]> = {};
  for (const g of trackedGroups) owners[g] = await idsOf(`owners:${g}`);
  return {
    skus: skus.skus,
    marketing: skus.marketing,
    admins: { global: await idsOf("role:global"), powerPlatform: await idsOf("role:powerPlatform"), dynamics: await idsOf("role:dynamics") },
    owners,
  };
}
