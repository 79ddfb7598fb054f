import { z } from "zod";
import { SimError } from "../http/errors.js";
import { parseJsonBody, type SimRequest, type SimResponse } from "../http/types.js";
import { equalityOn, evaluateFilter, type FilterNode } from "../odata/filter.js";
import { assignLicense } from "../state/licensing.js";
import type { UserRec } from "../state/types.js";
import {
  contextUrl, decodeToken, encodeToken, findIndexAfterSeq, graphJson, parseGraphFilter, parseSelect, parseTop, resourceNotFound,
  withSkipToken, type GraphContext,
} from "./common.js";
import { serializeDirectoryObject, serializeUser, USER_FILTER_PROPS, USER_PROPS, userProperty } from "./serialize.js";

function userMatcher(ctx: GraphContext, filter: FilterNode | null): (u: UserRec) => boolean {
  if (!filter) return () => true;
  const dir = ctx.state.directory;
  return (u) => evaluateFilter(filter, (path) => userProperty(dir, u, path[0] ?? ""));
}

/** GET /users: pages of up to $top (default 100, 1..999) in creation order; soft-deleted users excluded. */
export function listUsers(ctx: GraphContext, req: SimRequest): SimResponse {
  const q = req.url.searchParams;
  const top = parseTop(q.get("$top"), 100);
  const select = parseSelect(q.get("$select"), USER_PROPS, "user");
  const filter = parseGraphFilter(q.get("$filter"), USER_FILTER_PROPS, "User");
  const matches = userMatcher(ctx, filter);
  const dir = ctx.state.directory;
  const token = q.get("$skiptoken");
  let afterSeq = 0;
  if (token !== null) {
    const decoded = decodeToken(token);
    if (!decoded || typeof decoded.s !== "number") throw new SimError(400, "Request_BadRequest", "The specified page token value has expired or is invalid.");
    afterSeq = decoded.s;
  }
  const ids = filter ? equalityOn(filter, "id") : null;
  const source: UserRec[] = ids
    ? ids.map((id) => dir.users.get(id)).filter((u): u is UserRec => !!u).sort((a, b) => a.seq - b.seq)
    : dir.userOrder;
  const page: UserRec[] = [];
  let i = findIndexAfterSeq(source, afterSeq);
  let more = false;
  for (; i < source.length; i++) {
    const u = source[i] as UserRec;
    if (u.deletedDateTime || !matches(u)) continue;
    if (page.length === top) {
      more = true;
      break;
    }
    page.push(u);
  }
  const body: Record<string, unknown> = { "@odata.context": contextUrl(ctx, "users", select) };
  if (q.get("$count") === "true") {
    let count = 0;
    for (const u of source) if (!u.deletedDateTime && matches(u)) count++;
    body["@odata.count"] = count;
  }
  const last = page[page.length - 1];
  if (more && last) body["@odata.nextLink"] = `${ctx.base}/users?${withSkipToken(req.url, encodeToken({ s: last.seq }))}`;
  body.value = page.map((u) => serializeUser(dir, u, select));
  return graphJson(body);
}

export function countUsers(ctx: GraphContext, req: SimRequest): SimResponse {
  const filter = parseGraphFilter(req.url.searchParams.get("$filter"), USER_FILTER_PROPS, "User");
  const matches = userMatcher(ctx, filter);
  let count = 0;
  for (const u of ctx.state.directory.userOrder) if (!u.deletedDateTime && matches(u)) count++;
  return { status: 200, text: String(count), headers: { "content-type": "text/plain" } };
}

export function requireUser(ctx: GraphContext, idOrUpn: string): UserRec {
  const user = ctx.state.directory.activeUser(decodeURIComponent(idOrUpn));
  if (!user) throw resourceNotFound(decodeURIComponent(idOrUpn));
  return user;
}

export function getUser(ctx: GraphContext, req: SimRequest, idOrUpn: string): SimResponse {
  const user = requireUser(ctx, idOrUpn);
  const select = parseSelect(req.url.searchParams.get("$select"), USER_PROPS, "user");
  return graphJson({ "@odata.context": contextUrl(ctx, "users", select, true), ...serializeUser(ctx.state.directory, user, select) });
}

/**
 * GET /directory/deletedItems/{id}: a user deleted within the last 30 days (soft-deleted: it can be
 * restored), typed; anything else 404, as Graph answers once the item is purged or never existed.
 */
export function deletedItem(ctx: GraphContext, req: SimRequest, id: string): SimResponse {
  const user = ctx.state.directory.findUser(decodeURIComponent(id));
  if (!user?.deletedDateTime || user.id !== decodeURIComponent(id).toLowerCase()) throw resourceNotFound(decodeURIComponent(id));
  const select = parseSelect(req.url.searchParams.get("$select"), USER_PROPS, "user");
  return graphJson({
    "@odata.context": `${ctx.base}/$metadata#directoryObjects/$entity`,
    "@odata.type": "#microsoft.graph.user",
    ...serializeUser(ctx.state.directory, user, select, true),
    deletedDateTime: user.deletedDateTime,
  });
}

export function licenseDetails(ctx: GraphContext, _req: SimRequest, idOrUpn: string): SimResponse {
  const user = requireUser(ctx, idOrUpn);
  const dir = ctx.state.directory;
  const value = (userProperty(dir, user, "assignedLicenses") as Array<{ skuId: string; disabledPlans: string[] }>).map((lic) => {
    const sku = dir.skus.get(lic.skuId);
    return {
      id: Buffer.from(`${user.id}:${lic.skuId}`).toString("base64url"),
      skuId: lic.skuId,
      skuPartNumber: sku?.skuPartNumber ?? null,
      servicePlans: (sku?.servicePlans ?? []).map((p) => ({
        servicePlanId: p.servicePlanId,
        servicePlanName: p.servicePlanName,
        provisioningStatus: lic.disabledPlans.includes(p.servicePlanId) ? "Disabled" : p.provisioningStatus,
        appliesTo: p.appliesTo,
      })),
    };
  });
  return graphJson({ "@odata.context": `${ctx.base}/$metadata#users('${user.id}')/licenseDetails`, value });
}

const AssignLicenseSchema = z.object({
  addLicenses: z.array(z.object({ skuId: z.string(), disabledPlans: z.array(z.string()).nullable().optional() })),
  removeLicenses: z.array(z.string()),
});

export function postAssignLicense(ctx: GraphContext, req: SimRequest, idOrUpn: string): SimResponse {
  const user = requireUser(ctx, idOrUpn);
  let raw: unknown;
  try {
    raw = parseJsonBody(req);
  } catch {
    throw new SimError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.");
  }
  const parsed = AssignLicenseSchema.safeParse(raw);
  if (!parsed.success) {
    throw new SimError(400, "Request_BadRequest", `Invalid value specified for property '${parsed.error.issues[0]?.path.join(".") ?? "addLicenses"}' of resource 'User'. Both addLicenses and removeLicenses are required.`);
  }
  const before = user.licensesReadLag && Date.now() < user.licensesReadLag.until ? user.licensesReadLag.licenses : user.licenses;
  assignLicense(ctx.state.directory, user, parsed.data);
  const lag = ctx.settings.graph.licenseReadLagMs;
  // The answer shows the change; reads show the licenses as they were for `lag` ms.
  const answer = graphJson({ "@odata.context": contextUrl(ctx, "users", null, true), ...serializeUser(ctx.state.directory, { ...user, licensesReadLag: undefined }, null) });
  if (lag > 0) user.licensesReadLag = { until: Date.now() + lag, licenses: before };
  return answer;
}

/** GET /users/{id}/memberOf (direct groups and directory roles) and /transitiveMemberOf. */
export function memberOf(ctx: GraphContext, req: SimRequest, idOrUpn: string, transitive: boolean): SimResponse {
  const user = requireUser(ctx, idOrUpn);
  const dir = ctx.state.directory;
  const groups: string[] = [];
  const seen = new Set<string>();
  const queue = [...(dir.memberOf.get(user.id) ?? [])];
  while (queue.length) {
    const gid = queue.shift() as string;
    if (seen.has(gid) || !dir.groups.has(gid)) continue;
    seen.add(gid);
    groups.push(gid);
    if (transitive) queue.push(...(dir.memberOf.get(gid) ?? []));
  }
  const select = parseSelect(req.url.searchParams.get("$select"), [...new Set(["id", "displayName", "description", "securityEnabled", "mailEnabled", "groupTypes", "roleTemplateId"])], "directoryObject");
  const value: unknown[] = groups.map((gid) => serializeDirectoryObject(dir, gid, select?.filter((s) => s !== "roleTemplateId") ?? null));
  // Transitively, a role assigned to a role-assignable group the user is in is the user's too.
  for (const role of dir.rolesHeldBy(user.id, transitive)) {
    value.push({ "@odata.type": "#microsoft.graph.directoryRole", id: role.id, displayName: role.displayName, roleTemplateId: role.roleTemplateId, deletedDateTime: null });
  }
  return graphJson({ "@odata.context": `${ctx.base}/$metadata#directoryObjects`, value });
}
