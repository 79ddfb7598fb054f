import { SimError } from "../http/errors.js";
import type { SimRequest, SimResponse } from "../http/types.js";
import { equalityOn, evaluateFilter } from "../odata/filter.js";
import type { GroupRec } from "../state/types.js";
import {
  contextUrl, decodeToken, encodeToken, findIndexAfterSeq, graphJson, parseGraphFilter, parseSelect, parseTop, resourceNotFound,
  withSkipToken, type GraphContext,
} from "./common.js";
import { GROUP_FILTER_PROPS, GROUP_PROPS, groupProperty, odataTypeOf, serializeDirectoryObject, serializeGroup, USER_PROPS } from "./serialize.js";

export function requireGroup(ctx: GraphContext, id: string): GroupRec {
  const group = ctx.state.directory.groups.get(decodeURIComponent(id).toLowerCase());
  if (!group) throw resourceNotFound(id);
  return group;
}

export function listGroups(ctx: GraphContext, req: SimRequest): SimResponse {
  const q = req.url.searchParams;
  const top = parseTop(q.get("$top"), 100);
  const select = parseSelect(q.get("$select"), GROUP_PROPS, "group");
  const filter = parseGraphFilter(q.get("$filter"), GROUP_FILTER_PROPS, "Group");
  const dir = ctx.state.directory;
  const token = q.get("$skiptoken");
  const afterSeq = token === null ? 0 : Number(decodeToken(token)?.s ?? Number.NaN);
  if (Number.isNaN(afterSeq)) throw new SimError(400, "Request_BadRequest", "The specified page token value has expired or is invalid.");
  const ids = filter ? equalityOn(filter, "id") : null;
  const source = ids ? ids.map((id) => dir.groups.get(id)).filter((g): g is GroupRec => !!g).sort((a, b) => a.seq - b.seq) : dir.groupOrder;
  const page: GroupRec[] = [];
  let more = false;
  for (let i = findIndexAfterSeq(source, afterSeq); i < source.length; i++) {
    const g = source[i] as GroupRec;
    if (filter && !evaluateFilter(filter, (path) => groupProperty(g, path[0] ?? ""))) continue;
    if (page.length === top) {
      more = true;
      break;
    }
    page.push(g);
  }
  const body: Record<string, unknown> = { "@odata.context": contextUrl(ctx, "groups", select) };
  const last = page[page.length - 1];
  if (more && last) body["@odata.nextLink"] = `${ctx.base}/groups?${withSkipToken(req.url, encodeToken({ s: last.seq }))}`;
  body.value = page.map((g) => serializeGroup(g, select));
  return graphJson(body);
}

export function getGroup(ctx: GraphContext, req: SimRequest, id: string): SimResponse {
  const group = requireGroup(ctx, id);
  const select = parseSelect(req.url.searchParams.get("$select"), GROUP_PROPS, "group");
  return graphJson({ "@odata.context": contextUrl(ctx, "groups", select, true), ...serializeGroup(group, select) });
}

/** What `$select` may name on a member list (users, groups and service principals mixed). */
export const MEMBER_SELECT = [...new Set([...USER_PROPS, ...GROUP_PROPS.filter((p) => p !== "members"), "appId"])];

/**
 * Pages of a member list. The token remembers the position and the last id, so a removal
 * between pages does not skip anyone (the position is re-found from the id).
 */
function pageOfIds(ctx: GraphContext, req: SimRequest, ids: string[], resource: string, defaultTop = 100): SimResponse {
  const q = req.url.searchParams;
  const top = parseTop(q.get("$top"), defaultTop);
  const select = parseSelect(q.get("$select"), MEMBER_SELECT, "directoryObject");
  const token = q.get("$skiptoken");
  let start = 0;
  if (token !== null) {
    const decoded = decodeToken(token);
    if (!decoded || typeof decoded.i !== "number" || typeof decoded.id !== "string") {
      throw new SimError(400, "Request_BadRequest", "The specified page token value has expired or is invalid.");
    }
    start = ids[decoded.i - 1] === decoded.id ? decoded.i : ids.indexOf(decoded.id) + 1;
  }
  const slice = ids.slice(start, start + top);
  const body: Record<string, unknown> = { "@odata.context": `${ctx.base}/$metadata#directoryObjects` };
  if (q.get("$count") === "true") body["@odata.count"] = ids.length;
  const lastId = slice[slice.length - 1];
  if (start + top < ids.length && lastId) {
    body["@odata.nextLink"] = `${ctx.base}/${resource}?${withSkipToken(req.url, encodeToken({ i: start + slice.length, id: lastId }))}`;
  }
  const dir = ctx.state.directory;
  body.value = slice.map((id) => serializeDirectoryObject(dir, id, select));
  return graphJson(body);
}

/** The members of one type when the request casts the list (`…/members/microsoft.graph.user`), else all. */
function ofType(ctx: GraphContext, ids: string[], cast: string | undefined): string[] {
  if (!cast) return ids;
  const type = `#microsoft.graph.${cast}`;
  return ids.filter((id) => odataTypeOf(ctx.state.directory, id) === type);
}

function membersPath(group: GroupRec, list: string, cast: string | undefined): string {
  return `groups/${group.id}/${list}${cast ? `/microsoft.graph.${cast}` : ""}`;
}

/** GET /groups/{id}/members[/microsoft.graph.{type}]: direct members only (what Dataverse's group sync uses). */
export function groupMembers(ctx: GraphContext, req: SimRequest, id: string, cast?: string): SimResponse {
  const group = requireGroup(ctx, id);
  return pageOfIds(ctx, req, ofType(ctx, ctx.state.directory.visibleMembers(group), cast), membersPath(group, "members", cast));
}

export function groupMembersCount(ctx: GraphContext, id: string): SimResponse {
  const group = requireGroup(ctx, id);
  return { status: 200, text: String(ctx.state.directory.visibleMembers(group).length), headers: { "content-type": "text/plain" } };
}

export function groupTransitiveMembers(ctx: GraphContext, req: SimRequest, id: string, cast?: string): SimResponse {
  const group = requireGroup(ctx, id);
  return pageOfIds(ctx, req, ofType(ctx, ctx.state.directory.transitiveMembers(group), cast), membersPath(group, "transitiveMembers", cast));
}

export function groupOwners(ctx: GraphContext, req: SimRequest, id: string): SimResponse {
  const group = requireGroup(ctx, id);
  const owners = group.owners.filter((o) => ctx.state.directory.principalExists(o));
  return pageOfIds(ctx, req, owners, `groups/${group.id}/owners`);
}
