import { SimError } from "../http/errors.js";
import type { Caller, SimResponse } from "../http/types.js";
import { equalityOn, evaluateFilter } from "../odata/filter.js";
import type { SimSettings } from "../settings.js";
import {
  BUSINESSUNIT_COLUMNS, ROLE_COLUMNS, SYSTEMUSER_COLUMNS, type ColumnType, type DataverseDb, type Row, type SystemUserRec,
} from "../state/dataverse-db.js";
import { isGuid } from "../state/ids.js";
import {
  compareRows, dvJson, makeSkipToken, parseDvFilter, parseOrderBy, parseSelect, parseTop, project, readSkipToken, type Prefer,
} from "./query.js";

/** One Dataverse Web API operation, independent of transport (top-level request or $batch part). */
export interface DvOperation {
  method: string;
  /** Path after /api/data/v9.2/, e.g. "systemusers(…)/systemuserroles_association/$ref". */
  resource: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: string;
}

export interface DvContext {
  db: DataverseDb;
  settings: SimSettings;
  /** …/api/data/v9.2 of this environment. */
  apiBase: string;
  caller: Caller | undefined;
  prefer: Prefer;
  /** The tenant's service principal of an application (Entra ID), for application users. */
  servicePrincipal?: (appId: string) => { id: string; displayName: string } | undefined;
}

const DEFAULT_PAGE = 5000;
const COUNT_LIMIT = 5000;

const invalidKey = (id: string) => new SimError(400, "0x80060888", `Bad Request - Error in query syntax: '${id}' is not a valid key.`);
const notExist = (entity: string, id: string) => new SimError(404, "0x80040217", `${entity} With Id = ${id} Does Not Exist`);

function parseBody(op: DvOperation): Record<string, unknown> {
  if (!op.body.trim()) return {};
  try {
    const parsed = JSON.parse(op.body) as unknown;
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
    return parsed as Record<string, unknown>;
  } catch {
    throw new SimError(400, "0x80060891", "The request body is not valid JSON.");
  }
}

function requireUser(ctx: DvContext, id: string): SystemUserRec {
  if (!isGuid(id)) throw invalidKey(id);
  const rec = ctx.db.get(id);
  if (!rec) throw notExist("systemuser", id);
  return rec;
}

/** The systemuser the caller acts as: its application user, or the user with its object id. */
export function callerUser(ctx: DvContext): SystemUserRec | undefined {
  const caller = ctx.caller;
  if (!caller) return undefined;
  if (caller.isApp && caller.appId) {
    const app = ctx.db.findByApplicationId(caller.appId);
    if (app) return app;
  }
  return ctx.db.findByAadObjectId(caller.objectId);
}

function listRows<T>(
  ctx: DvContext, op: DvOperation, entitySet: string, entity: string, key: string, columns: Record<string, ColumnType>,
  source: T[], rowOf: (t: T) => Row, etagOf: (t: T) => number | undefined, indexed?: (filterIds: string[]) => T[],
): SimResponse {
  const q = op.query;
  const select = parseSelect(q.get("$select"), columns, entity);
  const filter = parseDvFilter(q.get("$filter"), columns, entity);
  const orderBy = parseOrderBy(q.get("$orderby"), columns, entity);
  const top = parseTop(q.get("$top"));
  const expand = q.get("$expand");
  if (expand && !(entitySet === "systemusers" && /^systemuserroles_association(\(.*\))?$/.test(expand.trim()))) {
    throw new SimError(400, "0x80060888", `Could not find a property named '${expand.split("(")[0] ?? expand}' on type 'Microsoft.Dynamics.CRM.${entity}'.`);
  }
  const pageSize = top ?? ctx.prefer.maxPageSize ?? DEFAULT_PAGE;
  const tokenRaw = q.get("$skiptoken");
  const token = tokenRaw === null ? null : readSkipToken(tokenRaw);
  if (tokenRaw !== null && !token) throw new SimError(400, "0x80060888", "The $skiptoken is not valid.");
  const aadIds = filter && key === "systemuserid" ? equalityOn(filter, "azureactivedirectoryobjectid") : null;
  const candidates = aadIds && indexed ? indexed(aadIds) : source;
  const matches = (t: T) => !filter || evaluateFilter(filter, (path) => rowOf(t)[path[0] ?? ""]);

  const page: T[] = [];
  let nextPosition: number | null = null;
  let total = 0;
  const wantCount = q.get("$count") === "true";
  if (orderBy) {
    const all = candidates.filter(matches).sort((a, b) => compareRows(rowOf(a), rowOf(b), orderBy));
    total = all.length;
    const start = token?.position ?? 0;
    page.push(...all.slice(start, start + pageSize));
    if (top === null && start + pageSize < all.length) nextPosition = start + pageSize;
  } else {
    // Default order: creation order; the cookie holds the index of the next candidate.
    let i = token?.position ?? 0;
    for (; i < candidates.length; i++) {
      const t = candidates[i] as T;
      if (!matches(t)) continue;
      if (page.length === pageSize) {
        if (top === null) nextPosition = i;
        break;
      }
      page.push(t);
    }
    if (wantCount) total = candidates.reduce((n, t) => n + (matches(t) ? 1 : 0), 0);
  }
  const body: Record<string, unknown> = { "@odata.context": `${ctx.apiBase}/$metadata#${entitySet}${select ? `(${select.join(",")})` : ""}` };
  if (wantCount) {
    body["@odata.count"] = Math.min(total, COUNT_LIMIT);
    if (total > COUNT_LIMIT) body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = true;
  }
  body.value = page.map((t) => {
    const out = project(rowOf(t), select, key, etagOf(t));
    if (expand && entitySet === "systemusers") out.systemuserroles_association = rolesOfUser(ctx, t as unknown as SystemUserRec);
    return out;
  });
  if (nextPosition !== null) {
    const params = new URLSearchParams(q);
    params.set("$skiptoken", makeSkipToken((token?.page ?? 1) + 1, nextPosition));
    body["@odata.nextLink"] = `${ctx.apiBase}/${entitySet}?${params.toString().replace(/%24/g, "$").replace(/\+/g, "%20")}`;
  }
  const headers: Record<string, string> = {};
  if (ctx.prefer.maxPageSize !== null) headers["preference-applied"] = `odata.maxpagesize=${ctx.prefer.maxPageSize}`;
  return dvJson(200, body, headers);
}

function rolesOfUser(ctx: DvContext, rec: SystemUserRec): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const id of rec.roles) {
    const role = ctx.db.roles.get(id);
    if (role) out.push({ ...role.data });
  }
  return out;
}

export function listSystemUsers(ctx: DvContext, op: DvOperation): SimResponse {
  return listRows(ctx, op, "systemusers", "systemuser", "systemuserid", SYSTEMUSER_COLUMNS, ctx.db.order, (u) => u.data, (u) => u.rowVersion,
    (ids) => ids.map((id) => ctx.db.findByAadObjectId(id)).filter((u): u is SystemUserRec => !!u).sort((a, b) => a.seq - b.seq));
}

export function getSystemUser(ctx: DvContext, op: DvOperation, id: string): SimResponse {
  const rec = requireUser(ctx, id);
  const select = parseSelect(op.query.get("$select"), SYSTEMUSER_COLUMNS, "systemuser");
  const out = project(rec.data, select, "systemuserid", rec.rowVersion);
  if (/^systemuserroles_association/.test(op.query.get("$expand") ?? "")) out.systemuserroles_association = rolesOfUser(ctx, rec);
  return dvJson(200, { "@odata.context": `${ctx.apiBase}/$metadata#systemusers${select ? `(${select.join(",")})` : ""}/$entity`, ...out }, { etag: `W/"${rec.rowVersion}"` });
}

/** Splits a create/update body into column values and the business unit binding. */
function columnsOf(ctx: DvContext, body: Record<string, unknown>): Row {
  const row: Row = {};
  for (const [k, v] of Object.entries(body)) {
    if (k.startsWith("@odata.")) continue;
    if (k === "businessunitid@odata.bind") {
      const m = /businessunits\(([0-9a-f-]{36})\)/i.exec(String(v));
      if (!m?.[1] || m[1].toLowerCase() !== ctx.db.businessUnitId) throw new SimError(404, "0x80040217", `businessunit With Id = ${m?.[1] ?? String(v)} Does Not Exist`);
      continue;
    }
    if (typeof v === "object" && v !== null) throw new SimError(400, "0x80060888", `The property '${k}' does not accept complex values.`);
    row[k] = v as string | number | boolean | null;
  }
  return row;
}

function entityUrl(ctx: DvContext, rec: SystemUserRec): string {
  return `${ctx.apiBase}/systemusers(${String(rec.data.systemuserid)})`;
}

function written(ctx: DvContext, op: DvOperation, rec: SystemUserRec, created: boolean): SimResponse {
  const url = entityUrl(ctx, rec);
  const headers = { "odata-entityid": url, location: url, etag: `W/"${rec.rowVersion}"` };
  if (!ctx.prefer.returnRepresentation) return { status: 204, headers: { "odata-version": "4.0", ...headers } };
  const select = parseSelect(op.query.get("$select"), SYSTEMUSER_COLUMNS, "systemuser");
  return dvJson(created ? 201 : 200, {
    "@odata.context": `${ctx.apiBase}/$metadata#systemusers/$entity`,
    ...project(rec.data, select, "systemuserid", rec.rowVersion),
  }, headers);
}

export function createSystemUser(ctx: DvContext, op: DvOperation): SimResponse {
  const row = columnsOf(ctx, parseBody(op));
  if (typeof row.applicationid === "string" && ctx.servicePrincipal) {
    // An application user: the platform looks the application up in Entra ID and fills in its
    // service principal, name and the non-interactive access mode; an unknown application is refused.
    const sp = ctx.servicePrincipal(row.applicationid.toLowerCase());
    if (!sp) throw new SimError(400, "0x80040203", `No application with id ${row.applicationid} was found in the tenant's Microsoft Entra ID.`);
    Object.assign(row, { azureactivedirectoryobjectid: sp.id, fullname: `# ${sp.displayName}`, accessmode: 4, islicensed: false });
  }
  const rec = ctx.db.insert(row);
  return written(ctx, op, rec, true);
}

function isDirectorySynced(rec: SystemUserRec): boolean {
  const mode = rec.data.accessmode;
  return typeof rec.data.azureactivedirectoryobjectid === "string" && rec.data.applicationid === null && mode !== 3 && mode !== 5 && mode !== 4;
}

export function updateSystemUser(ctx: DvContext, op: DvOperation, id: string): SimResponse {
  if (!isGuid(id)) throw invalidKey(id);
  const row = columnsOf(ctx, parseBody(op));
  const existing = ctx.db.get(id);
  const ifMatch = op.headers["if-match"];
  const ifNoneMatch = op.headers["if-none-match"];
  if (!existing) {
    if (ifMatch) throw notExist("systemuser", id);
    // Upsert: PATCH on a missing key creates the record.
    const rec = ctx.db.insert({ ...row, systemuserid: id });
    return written(ctx, op, rec, true);
  }
  if (ifNoneMatch === "*") throw new SimError(412, "0x80040237", "A record with matching key values already exists.");
  if (ifMatch && ifMatch !== "*" && ifMatch !== `W/"${existing.rowVersion}"`) {
    throw new SimError(412, "0x80060882", "The version of the existing record doesn't match the RowVersion property provided.");
  }
  if (ctx.settings.dataverse.refuseSyncedUserDisable && "isdisabled" in row && row.isdisabled !== existing.data.isdisabled && isDirectorySynced(existing)) {
    throw new SimError(400, "0x80040225",
      "The status of a user synchronized from Microsoft Entra ID is managed by the platform in this environment. Enable the user with the Power Platform admin API (addUser); disable it by removing its license or security-group membership in Entra ID.");
  }
  const emailChanged = "internalemailaddress" in row && row.internalemailaddress !== existing.data.internalemailaddress;
  ctx.db.update(existing, row);
  if (emailChanged) existing.platformEmail = null;
  return written(ctx, op, existing, false);
}

export function deleteSystemUser(ctx: DvContext, id: string): SimResponse {
  requireUser(ctx, id);
  throw new SimError(400, "0x80040203", "The 'Delete' method does not support entities of type 'systemuser'. Disable the user instead.");
}

function roleIdFromRef(ctx: DvContext, ref: string): string {
  const m = /roles\(([0-9a-f-]{36})\)/i.exec(ref);
  if (!m?.[1]) throw new SimError(400, "0x80060888", `The reference '${ref}' is not a role URI.`);
  if (!ctx.db.roles.has(m[1].toLowerCase())) throw notExist("role", m[1]);
  return m[1];
}

export function associateRole(ctx: DvContext, op: DvOperation, userId: string): SimResponse {
  const rec = requireUser(ctx, userId);
  const ref = parseBody(op)["@odata.id"];
  if (typeof ref !== "string") throw new SimError(400, "0x80060888", "The request body must contain '@odata.id'.");
  ctx.db.associateRole(rec, roleIdFromRef(ctx, ref));
  return { status: 204, headers: { "odata-version": "4.0" } };
}

export function disassociateRole(ctx: DvContext, op: DvOperation, userId: string, roleId: string | null): SimResponse {
  const rec = requireUser(ctx, userId);
  const id = roleId ?? roleIdFromRef(ctx, op.query.get("$id") ?? "");
  ctx.db.disassociateRole(rec, id);
  return { status: 204, headers: { "odata-version": "4.0" } };
}

export function userRoles(ctx: DvContext, userId: string): SimResponse {
  const rec = requireUser(ctx, userId);
  return dvJson(200, { "@odata.context": `${ctx.apiBase}/$metadata#roles`, value: rolesOfUser(ctx, rec) });
}

export function listRoles(ctx: DvContext, op: DvOperation): SimResponse {
  const roles = [...ctx.db.roles.values()];
  return listRows(ctx, op, "roles", "role", "roleid", ROLE_COLUMNS, roles, (r) => r.data, () => undefined);
}

export function getRole(ctx: DvContext, op: DvOperation, id: string): SimResponse {
  const role = ctx.db.roles.get(id.toLowerCase());
  if (!role) throw notExist("role", id);
  const select = parseSelect(op.query.get("$select"), ROLE_COLUMNS, "role");
  return dvJson(200, { "@odata.context": `${ctx.apiBase}/$metadata#roles/$entity`, ...project(role.data, select, "roleid") });
}

export function listBusinessUnits(ctx: DvContext, op: DvOperation): SimResponse {
  return listRows(ctx, op, "businessunits", "businessunit", "businessunitid", BUSINESSUNIT_COLUMNS, [ctx.db.businessUnit], (r) => r, () => undefined);
}

export function whoAmI(ctx: DvContext): SimResponse {
  const user = callerUser(ctx);
  if (!user) throw new SimError(403, "0x80072560", "The user is not a member of the organization.");
  return dvJson(200, {
    "@odata.context": `${ctx.apiBase}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
    BusinessUnitId: ctx.db.businessUnitId,
    UserId: user.data.systemuserid,
    OrganizationId: ctx.db.organizationId,
  });
}

export interface DvRoute {
  kind: string;
  write: boolean;
  run: (ctx: DvContext, op: DvOperation) => SimResponse;
}

const KEY = "\\(([^)]*)\\)";

/** Maps an operation to its handler (null = no such resource). */
export function routeOperation(op: DvOperation): DvRoute | null {
  const r = op.resource.replace(/\/+$/, "");
  const m = (re: string) => new RegExp(`^${re}$`, "i").exec(r);
  let match: RegExpExecArray | null;
  const method = op.method;
  if (m("systemusers")) {
    if (method === "GET") return { kind: "systemusers.list", write: false, run: listSystemUsers };
    if (method === "POST") return { kind: "systemusers.create", write: true, run: createSystemUser };
  }
  if ((match = m(`systemusers${KEY}`))) {
    const id = match[1] ?? "";
    if (method === "GET") return { kind: "systemusers.get", write: false, run: (c, o) => getSystemUser(c, o, id) };
    if (method === "PATCH") return { kind: "systemusers.update", write: true, run: (c, o) => updateSystemUser(c, o, id) };
    if (method === "DELETE") return { kind: "systemusers.delete", write: true, run: (c) => deleteSystemUser(c, id) };
  }
  if ((match = m(`systemusers${KEY}/systemuserroles_association/\\$ref`))) {
    const id = match[1] ?? "";
    if (method === "POST") return { kind: "systemusers.associateRole", write: true, run: (c, o) => associateRole(c, o, id) };
    if (method === "DELETE") return { kind: "systemusers.disassociateRole", write: true, run: (c, o) => disassociateRole(c, o, id, null) };
  }
  if ((match = m(`systemusers${KEY}/systemuserroles_association${KEY}/\\$ref`)) && method === "DELETE") {
    const id = match[1] ?? "";
    const roleId = match[2] ?? "";
    return { kind: "systemusers.disassociateRole", write: true, run: (c, o) => disassociateRole(c, o, id, roleId) };
  }
  if ((match = m(`systemusers${KEY}/systemuserroles_association`)) && method === "GET") {
    const id = match[1] ?? "";
    return { kind: "systemusers.roles", write: false, run: (c) => userRoles(c, id) };
  }
  if (m("roles") && method === "GET") return { kind: "roles.list", write: false, run: listRoles };
  if ((match = m(`roles${KEY}`)) && method === "GET") {
    const id = match[1] ?? "";
    return { kind: "roles.get", write: false, run: (c, o) => getRole(c, o, id) };
  }
  if (m("businessunits") && method === "GET") return { kind: "businessunits.list", write: false, run: listBusinessUnits };
  if (m("WhoAmI(\\(\\))?") && method === "GET") return { kind: "whoami", write: false, run: (c) => whoAmI(c) };
  return null;
}
