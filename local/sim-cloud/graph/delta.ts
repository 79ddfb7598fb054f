import { SimError } from "../http/errors.js";
import type { SimRequest, SimResponse } from "../http/types.js";
import { equalityOn } from "../odata/filter.js";
import { decodeToken, encodeToken, graphError, graphJson, parseGraphFilter, parseSelect, type GraphContext } from "./common.js";
import { GROUP_PROPS, odataTypeOf, serializeGroup, serializeUser, USER_PROPS } from "./serialize.js";

/**
 * Delta queries (users/delta, groups/delta). A round is a sequence of nextLinks ending in a
 * deltaLink; it covers the change log up to the version current when the round started, so
 * an object changed during a round comes back in the next one (a replay, as Graph allows).
 * Tokens are opaque, bound to their $select/$filter, and die after deltaTokenTtlSeconds or when
 * the admin API expires every token (410 Gone with a Location to start over).
 */

interface RoundToken {
  k: "u" | "g";
  /** Changes after this version... */
  since: number;
  /** ...up to this one. */
  upTo: number;
  /** Position in the change log. */
  pos: number;
  /** Member offset within the group at `pos` (groups only). */
  mo: number;
  sel: string | null;
  /** Group id filter (groups only). */
  ids: string[] | null;
  ep: number;
  init: boolean;
  /** The optional empty first page has been served. */
  e: boolean;
}

interface DeltaLinkToken {
  k: "u" | "g";
  v: number;
  sel: string | null;
  ids: string[] | null;
  ep: number;
  iat: number;
}

function gone(ctx: GraphContext, req: SimRequest, resource: "users" | "groups", sel: string | null): SimResponse {
  const params = new URLSearchParams();
  if (sel) params.set("$select", sel);
  const qs = params.toString().replace(/%24/g, "$").replace(/%2C/gi, ",");
  return graphError(410, "syncStateNotFound",
    "The sync state token is expired, unknown or was issued before a reset. Start a new full synchronization (request the delta function without a token).",
    { location: `${ctx.base}/${resource}/delta${qs ? `?${qs}` : ""}` }, req);
}

function startRound(ctx: GraphContext, req: SimRequest, kind: "u" | "g"): RoundToken | SimResponse {
  const q = req.url.searchParams;
  const resource = kind === "u" ? "users" : "groups";
  const skip = q.get("$skiptoken");
  const delta = q.get("$deltatoken");
  const dir = ctx.state.directory;
  if (skip !== null) {
    const t = decodeToken(skip) as Partial<RoundToken> | null;
    if (!t || t.k !== kind || typeof t.since !== "number" || typeof t.pos !== "number" || t.ep !== ctx.state.deltaEpoch) {
      return gone(ctx, req, resource, typeof t?.sel === "string" ? t.sel : null);
    }
    return t as RoundToken;
  }
  if (delta !== null && delta !== "latest") {
    const t = decodeToken(delta) as Partial<DeltaLinkToken> | null;
    const ttlMs = ctx.settings.graph.deltaTokenTtlSeconds * 1000;
    if (!t || t.k !== kind || typeof t.v !== "number" || typeof t.iat !== "number" || t.ep !== ctx.state.deltaEpoch || ctx.now() - t.iat > ttlMs) {
      return gone(ctx, req, resource, typeof t?.sel === "string" ? t.sel : null);
    }
    const log = kind === "u" ? dir.userLog : dir.groupLog;
    return { k: kind, since: t.v, upTo: dir.currentVersion, pos: log.firstIndexAfter(t.v), mo: 0, sel: t.sel ?? null, ids: t.ids ?? null, ep: t.ep, init: false, e: false };
  }
  // $top is ignored: Graph sizes delta pages itself.
  const props = kind === "u" ? USER_PROPS : GROUP_PROPS;
  const select = parseSelect(q.get("$select"), props, kind === "u" ? "user" : "group");
  let ids: string[] | null = null;
  if (kind === "g") {
    const filter = parseGraphFilter(q.get("$filter"), ["id"], "Group");
    if (filter) {
      ids = equalityOn(filter, "id");
      if (!ids) throw new SimError(400, "Request_UnsupportedQuery", "groups/delta supports $filter only as id eq '...' clauses joined with or.");
      if (ids.length > 50) throw new SimError(400, "Request_UnsupportedQuery", "groups/delta supports at most 50 ids in $filter.");
    }
  }
  if (delta === "latest") {
    return { k: kind, since: dir.currentVersion, upTo: dir.currentVersion, pos: Number.MAX_SAFE_INTEGER, mo: 0, sel: select?.join(",") ?? null, ids, ep: ctx.state.deltaEpoch, init: false, e: true };
  }
  return { k: kind, since: 0, upTo: dir.currentVersion, pos: 0, mo: 0, sel: select?.join(",") ?? null, ids, ep: ctx.state.deltaEpoch, init: true, e: false };
}

function links(ctx: GraphContext, resource: "users" | "groups", round: RoundToken, done: boolean, next: Partial<RoundToken>): Record<string, string> {
  if (done) {
    const token: DeltaLinkToken = { k: round.k, v: round.upTo, sel: round.sel, ids: round.ids, ep: round.ep, iat: ctx.now() };
    return { "@odata.deltaLink": `${ctx.base}/${resource}/delta?$deltatoken=${encodeToken({ ...token })}` };
  }
  return { "@odata.nextLink": `${ctx.base}/${resource}/delta?$skiptoken=${encodeToken({ ...round, ...next })}` };
}

function context(ctx: GraphContext, resource: string, sel: string | null): string {
  return `${ctx.base}/$metadata#${resource}${sel ? `(${sel})` : ""}`;
}

export function usersDelta(ctx: GraphContext, req: SimRequest): SimResponse {
  const round = startRound(ctx, req, "u");
  if ("status" in round) return round;
  const select = round.sel ? round.sel.split(",") : null;
  if (ctx.settings.graph.deltaEmptyFirstPage && !round.e) {
    return graphJson({ "@odata.context": context(ctx, "users", round.sel), ...links(ctx, "users", round, false, { e: true }), value: [] });
  }
  const dir = ctx.state.directory;
  const log = dir.userLog;
  const pageSize = ctx.settings.graph.deltaPageSize;
  const scanBudget = pageSize * 4;
  const value: unknown[] = [];
  let i = round.pos;
  let scanned = 0;
  while (i < log.length && log.versionAt(i) <= round.upTo && value.length < pageSize && scanned < scanBudget) {
    const id = log.idAt(i);
    const version = log.versionAt(i);
    i++;
    scanned++;
    const user = dir.users.get(id);
    if (user) {
      if (user.version !== version) continue;
      if (user.deletedDateTime) {
        if (!round.init) value.push({ id, "@removed": { reason: "changed" } });
        continue;
      }
      value.push(serializeUser(dir, user, select, true));
    } else if (dir.userTombstones.get(id) === version && !round.init) {
      value.push({ id, "@removed": { reason: "deleted" } });
    }
  }
  const done = !(i < log.length && log.versionAt(i) <= round.upTo);
  return graphJson({ "@odata.context": context(ctx, "users", round.sel), ...links(ctx, "users", round, done, { pos: i, e: true }), value });
}

export function groupsDelta(ctx: GraphContext, req: SimRequest): SimResponse {
  const round = startRound(ctx, req, "g");
  if ("status" in round) return round;
  const select = round.sel ? round.sel.split(",") : null;
  const includeMembers = !select || select.includes("members");
  if (ctx.settings.graph.deltaEmptyFirstPage && !round.e) {
    return graphJson({ "@odata.context": context(ctx, "groups", round.sel), ...links(ctx, "groups", round, false, { e: true }), value: [] });
  }
  const dir = ctx.state.directory;
  const log = dir.groupLog;
  const ids = round.ids ? new Set(round.ids) : null;
  let groupsLeft = ctx.settings.graph.groupDeltaPageSize;
  let membersLeft = ctx.settings.graph.groupDeltaMembersPerPage;
  const value: unknown[] = [];
  let i = round.pos;
  let mo = round.mo;
  let scanned = 0;
  while (i < log.length && log.versionAt(i) <= round.upTo && groupsLeft > 0 && membersLeft > 0 && scanned < groupsLeft * 4 + 100) {
    const id = log.idAt(i);
    const version = log.versionAt(i);
    scanned++;
    if (ids && !ids.has(id)) {
      i++;
      continue;
    }
    const group = dir.groups.get(id);
    if (!group) {
      if (dir.groupTombstones.get(id) === version && !round.init) value.push({ id, "@removed": { reason: "deleted" } });
      i++;
      continue;
    }
    if (group.version !== version) {
      i++;
      continue;
    }
    const obj: Record<string, unknown> = mo === 0 ? serializeGroup(group, select, true) : { id };
    groupsLeft--;
    if (!includeMembers) {
      value.push(obj);
      i++;
      continue;
    }
    const changes = round.init
      ? dir.visibleMembers(group).map((m) => ({ id: m, added: true }))
      : (dir.memberLogs.get(group.id)?.netChanges(round.since, round.upTo) ?? []);
    const chunk = changes.slice(mo, mo + membersLeft);
    obj["members@delta"] = chunk.map((c) => (c.added
      ? { "@odata.type": odataTypeOf(dir, c.id), id: c.id }
      : { "@odata.type": odataTypeOf(dir, c.id), id: c.id, "@removed": { reason: "deleted" } }));
    value.push(obj);
    membersLeft -= chunk.length;
    if (mo + chunk.length < changes.length) {
      mo += chunk.length;
      break;
    }
    mo = 0;
    i++;
  }
  const done = !(i < log.length && log.versionAt(i) <= round.upTo);
  return graphJson({ "@odata.context": context(ctx, "groups", round.sel), ...links(ctx, "groups", round, done, { pos: i, mo, e: true }), value });
}
