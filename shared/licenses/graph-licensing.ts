import type { Client } from "@microsoft/microsoft-graph-client";
import { z } from "zod";
import { AppError } from "../errors/app-error.js";
import { mapGraphError, type RetryBudget } from "../clients/graph.js";
import { graphErrorOf, MAX_BATCH_ITEMS, sendBatch, type BatchItemResult, type BatchOptions } from "../clients/graph-batch.js";

/**
 * The Microsoft Graph calls of license administration, and the schemas of what Graph answers.
 * Everything that touches several users goes through `$batch` (20 per request, throttled items
 * retried within the budget; see clients/graph-batch.ts).
 */

const nullableString = z.string().nullish().transform((v) => v ?? null);
const list = <T extends z.ZodType>(item: T) => z.array(item).nullish().transform((v) => v ?? []);

export const graphSkuSchema = z.object({
  skuId: z.string().transform((s) => s.toLowerCase()),
  skuPartNumber: z.string(),
  appliesTo: z.string().nullish().transform((v) => v ?? "User"),
  capabilityStatus: z.string(),
  consumedUnits: z.number().int().nullish().transform((v) => v ?? 0),
  prepaidUnits: z
    .object({ enabled: z.number().int().nullish(), warning: z.number().int().nullish(), suspended: z.number().int().nullish(), lockedOut: z.number().int().nullish() })
    .nullish()
    .transform((p) => ({ enabled: p?.enabled ?? 0, warning: p?.warning ?? 0, suspended: p?.suspended ?? 0, lockedOut: p?.lockedOut ?? 0 })),
  servicePlans: list(
    z.object({
      servicePlanId: z.string().transform((s) => s.toLowerCase()),
      servicePlanName: z.string(),
      provisioningStatus: z.string().nullish().transform((v) => v ?? "Success"),
      appliesTo: z.string().nullish().transform((v) => v ?? "User"),
    }),
  ),
});
export type GraphSku = z.infer<typeof graphSkuSchema>;

export const graphSubscriptionSchema = z.object({
  skuId: z.string().transform((s) => s.toLowerCase()),
  skuPartNumber: nullableString,
  isTrial: z.boolean().nullish().transform((v) => v ?? false),
  status: nullableString,
  nextLifecycleDateTime: nullableString,
  ownerType: nullableString,
  totalLicenses: z.number().int().nullish(),
});
export type GraphSubscription = z.infer<typeof graphSubscriptionSchema>;

export const graphLicenseStateSchema = z.object({
  skuId: z.string().transform((s) => s.toLowerCase()),
  assignedByGroup: z.string().nullish().transform((v) => v?.toLowerCase() ?? null),
  disabledPlans: list(z.string().transform((s) => s.toLowerCase())),
  state: nullableString,
  /** Null when fine (documented); "None" in practice. */
  error: nullableString,
  lastUpdatedDateTime: nullableString,
});
export type GraphLicenseState = z.infer<typeof graphLicenseStateSchema>;

export const graphUserSchema = z.object({
  id: z.string().transform((s) => s.toLowerCase()),
  displayName: nullableString,
  userPrincipalName: nullableString,
  mail: nullableString,
  userType: nullableString,
  usageLocation: nullableString,
  accountEnabled: z.boolean().nullish().transform((v) => v ?? null),
  assignedLicenses: list(z.object({ skuId: z.string().transform((s) => s.toLowerCase()), disabledPlans: list(z.string().transform((s) => s.toLowerCase())) })),
  licenseAssignmentStates: list(graphLicenseStateSchema),
  assignedPlans: list(
    z.object({
      servicePlanId: z.string().transform((s) => s.toLowerCase()),
      assignedDateTime: nullableString,
      capabilityStatus: nullableString,
    }),
  ),
});
export type GraphUser = z.infer<typeof graphUserSchema>;

export const USER_SELECT = [
  "id", "displayName", "userPrincipalName", "mail", "userType", "usageLocation", "accountEnabled",
  "assignedLicenses", "licenseAssignmentStates", "assignedPlans",
].join(",");

/**
 * What a license change needs of a user (guest?, usage location, licenses and their states): no
 * names and no `assignedPlans` (the largest part of a user, read only for trial dates and reports),
 * so the 20-user `$batch` read of every assignment is a fraction of the size to send and to parse.
 */
export const ASSIGNMENT_USER_SELECT = ["id", "userType", "usageLocation", "accountEnabled", "assignedLicenses", "licenseAssignmentStates"].join(",");

const pageSchema = <T extends z.ZodType>(item: T) =>
  z.object({ value: z.array(item), "@odata.nextLink": z.string().nullish() });

export interface GraphPage<T> {
  items: T[];
  /** The `$skiptoken` of the next page (never a whole URL: callers keep it in cursors). */
  skipToken: string | null;
}

export type UserRead = { ok: true; user: GraphUser } | { ok: false; status: number; error: AppError };

export interface AssignLicenseCall {
  userId: string;
  addLicenses: { skuId: string; disabledPlans: string[] }[];
  removeLicenses: string[];
}

export type AssignLicenseResult =
  | { ok: true }
  | { ok: false; status: number; code: string; message: string; retryAfterSeconds?: number; uncertain?: true };

export class LicensingGraph {
  constructor(
    private readonly client: Client,
    private readonly options: BatchOptions & { budget?: RetryBudget } = {},
  ) {}

  /** The catalog's two sources in one `$batch`: subscribed SKUs and the company subscriptions. */
  async readCatalogSources(): Promise<{ skus: GraphSku[]; subscriptions: GraphSubscription[] }> {
    const results = await sendBatch(
      this.client,
      [
        { id: "skus", method: "GET", url: "/subscribedSkus" },
        { id: "subscriptions", method: "GET", url: "/directory/subscriptions" },
      ],
      this.options,
    );
    const skus = await this.collect(expectOk(results.get("skus"), "subscribedSkus"), graphSkuSchema);
    const subscriptions = await this.collect(expectOk(results.get("subscriptions"), "directory/subscriptions"), graphSubscriptionSchema);
    return { skus, subscriptions };
  }

  /** Up to 20 users in one `$batch` (`select`: the properties to read); a user Graph does not know (or soft-deleted) is a 404 entry. */
  async readUsers(userIds: readonly string[], select: string = USER_SELECT): Promise<Map<string, UserRead>> {
    const out = new Map<string, UserRead>();
    if (userIds.length === 0) return out;
    if (userIds.length > MAX_BATCH_ITEMS) throw new RangeError("readUsers takes at most 20 ids");
    const results = await sendBatch(
      this.client,
      userIds.map((id, i) => ({ id: String(i), method: "GET" as const, url: `/users/${encodeURIComponent(id)}?$select=${select}` })),
      this.options,
    );
    userIds.forEach((id, i) => {
      const r = results.get(String(i));
      if (r && r.status === 200) {
        const parsed = graphUserSchema.safeParse(r.body);
        out.set(id, parsed.success ? { ok: true, user: parsed.data } : { ok: false, status: 502, error: new AppError("upstream", "Microsoft Graph answered a user with an unexpected body.") });
        return;
      }
      out.set(id, { ok: false, status: r?.status ?? 502, error: itemError(r, "the user") });
    });
    return out;
  }

  async getUser(userId: string): Promise<GraphUser> {
    try {
      const raw: unknown = await this.client.api(`/users/${encodeURIComponent(userId)}`).select(USER_SELECT).get();
      return graphUserSchema.parse(raw);
    } catch (err) {
      if (err instanceof z.ZodError) throw new AppError("upstream", "Microsoft Graph answered a user with an unexpected body.", { cause: err });
      const mapped = mapGraphError(err, "Microsoft Graph");
      throw mapped.kind === "notFound"
        ? new AppError("notFound", `The user ${userId} was not found in Microsoft Entra ID.`, { code: "user-not-found", extensions: { userId }, cause: err })
        : mapped;
    }
  }

  /** Up to 20 `assignLicense` calls in one `$batch`; each one is atomic for its user. */
  async assignLicenses(calls: readonly AssignLicenseCall[]): Promise<Map<string, AssignLicenseResult>> {
    const out = new Map<string, AssignLicenseResult>();
    if (calls.length === 0) return out;
    if (calls.length > MAX_BATCH_ITEMS) throw new RangeError("assignLicenses takes at most 20 calls");
    const results = await sendBatch(
      this.client,
      calls.map((c, i) => ({
        id: String(i),
        method: "POST" as const,
        url: `/users/${encodeURIComponent(c.userId)}/assignLicense`,
        body: { addLicenses: c.addLicenses, removeLicenses: c.removeLicenses },
      })),
      this.options,
    );
    calls.forEach((c, i) => {
      const r = results.get(String(i));
      if (r && r.status >= 200 && r.status < 300) {
        // 200 with the user (facts.md). Another body is not an answer we can read: whether the
        // license changed is not known - an upstream failure (a claim settles it against Graph later).
        if (isUserObject(r.body)) out.set(c.userId, { ok: true });
        else out.set(c.userId, { ok: false, status: 502, code: "upstream", message: "Microsoft Graph answered assignLicense with a body of an unexpected shape; whether the license changed is not known: read the user's licenses again." });
        return;
      }
      const { code, message } = graphErrorOf(r?.body);
      out.set(c.userId, {
        ok: false,
        status: r?.status ?? 502,
        code,
        message,
        ...(r?.retryAfterSeconds !== undefined ? { retryAfterSeconds: r.retryAfterSeconds } : {}),
        ...(r?.uncertain ? { uncertain: true as const } : {}),
      });
    });
    return out;
  }

  /** A page of users, optionally those whose name, UPN or mail starts with `search`. */
  async listUsers(options: { search?: string; skuId?: string; top: number; skipToken?: string }): Promise<GraphPage<GraphUser>> {
    const filters: string[] = [];
    if (options.search) {
      // The Graph client puts $filter into the query string as it is: the admin's text is
      // percent-encoded (an "&" would end the parameter, a "#" start a fragment, a "+" read as a space).
      const s = encodeURIComponent(odataString(options.search));
      filters.push(`(startswith(displayName,${s}) or startswith(userPrincipalName,${s}) or startswith(mail,${s}))`);
    }
    if (options.skuId) filters.push(`assignedLicenses/any(x:x/skuId eq ${options.skuId})`);
    let request = this.client.api("/users").select(USER_SELECT).top(options.top);
    if (filters.length) {
      // assignedLicenses/any() is an advanced query in Graph: it wants $count and ConsistencyLevel.
      request = request.filter(filters.join(" and ")).header("ConsistencyLevel", "eventual").query({ $count: "true" });
    }
    if (options.skipToken) request = request.query({ $skiptoken: options.skipToken });
    return this.page(request.get(), graphUserSchema);
  }

  /** Groups that hand out licenses (group-based licensing). */
  async listLicensedGroups(): Promise<{ id: string; displayName: string | null; skuIds: string[] }[]> {
    const groupSchema = z.object({
      id: z.string().transform((s) => s.toLowerCase()),
      displayName: nullableString,
      assignedLicenses: list(z.object({ skuId: z.string().transform((s) => s.toLowerCase()) })),
    });
    const out: { id: string; displayName: string | null; skuIds: string[] }[] = [];
    let skipToken: string | undefined;
    for (let pages = 0; pages < 1000; pages++) {
      let request = this.client.api("/groups").select("id,displayName,assignedLicenses").top(999);
      if (skipToken) request = request.query({ $skiptoken: skipToken });
      const page = await this.page(request.get(), groupSchema);
      for (const g of page.items) if (g.assignedLicenses.length) out.push({ id: g.id, displayName: g.displayName, skuIds: g.assignedLicenses.map((l) => l.skuId) });
      if (!page.skipToken) break;
      skipToken = page.skipToken;
    }
    return out;
  }

  /** A page of a group's direct member users (group licensing applies to direct members). */
  async listGroupMemberUsers(groupId: string, options: { top: number; skipToken?: string }): Promise<GraphPage<GraphUser>> {
    let request = this.client
      .api(`/groups/${encodeURIComponent(groupId)}/members/microsoft.graph.user`)
      .select("id,displayName,userPrincipalName,mail,licenseAssignmentStates")
      .top(options.top);
    if (options.skipToken) request = request.query({ $skiptoken: options.skipToken });
    return this.page(request.get(), graphUserSchema);
  }

  private async page<T extends z.ZodType>(response: Promise<unknown>, item: T): Promise<GraphPage<z.output<T>>> {
    const { items, nextLink } = await this.rawPage(response, item);
    return { items, skipToken: skipTokenOf(nextLink) };
  }

  private async rawPage<T extends z.ZodType>(response: Promise<unknown>, item: T): Promise<{ items: z.output<T>[]; nextLink: string | null }> {
    let raw: unknown;
    try {
      raw = await response;
    } catch (err) {
      throw mapGraphError(err, "Microsoft Graph");
    }
    return parsePage(raw, item);
  }

  /** Every item of a collection answer (following @odata.nextLink when a batch item has one). */
  private async collect<T extends z.ZodType>(first: unknown, item: T): Promise<z.output<T>[]> {
    let { items, nextLink } = parsePage(first, item);
    const all = [...items];
    for (let pages = 0; nextLink && pages < 100; pages++) {
      ({ items, nextLink } = await this.rawPage(this.client.api(nextLink).get() as Promise<unknown>, item));
      all.push(...items);
    }
    return all;
  }
}

function parsePage<T extends z.ZodType>(raw: unknown, item: T): { items: z.output<T>[]; nextLink: string | null } {
  const parsed = pageSchema(item).safeParse(raw);
  if (!parsed.success) throw new AppError("upstream", "Microsoft Graph answered a list with an unexpected body.", { cause: parsed.error });
  return { items: parsed.data.value, nextLink: parsed.data["@odata.nextLink"] ?? null };
}

function expectOk(result: BatchItemResult | undefined, what: string): unknown {
  if (result && result.status === 200) return result.body;
  throw itemError(result, `Microsoft Graph (${what})`);
}

/** A failed batch item as the app's error taxonomy (throttled past the budget -> 503 with Retry-After). */
export function itemError(result: BatchItemResult | undefined, what: string): AppError {
  const status = result?.status ?? 502;
  const { code, message } = graphErrorOf(result?.body);
  if (status === 429 || status === 503 || status === 504) {
    return new AppError("unavailable", `Microsoft Graph is throttling or unavailable (${status}); try again later.`, {
      retryAfterSeconds: result?.retryAfterSeconds ?? 5,
      extensions: { upstreamStatus: status },
    });
  }
  if (status === 404) return new AppError("notFound", `${what} was not found in Microsoft Entra ID.`);
  return new AppError("upstream", `Microsoft Graph answered ${status} for ${what}: ${message || code || "no details"}`, {
    extensions: { upstreamStatus: status, upstreamCode: code },
  });
}

function skipTokenOf(nextLink: string | null | undefined): string | null {
  if (!nextLink) return null;
  try {
    return new URL(nextLink).searchParams.get("$skiptoken");
  } catch {
    return null;
  }
}

/** An OData string literal ('' escapes a quote). */
function odataString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** assignLicense's answer: the user (an object with its id). */
function isUserObject(body: unknown): boolean {
  return typeof body === "object" && body !== null && typeof (body as { id?: unknown }).id === "string";
}
