import { SimError } from "../http/errors.js";
import type { SimRequest, SimResponse } from "../http/types.js";
import { evaluateFilter } from "../odata/filter.js";
import type { DirectoryRoleRec, SignInRec } from "../state/types.js";
import {
  decodeToken, encodeToken, graphJson, parseGraphFilter, parseSelect, parseTop, resourceNotFound, withSkipToken, type GraphContext,
} from "./common.js";
import { MEMBER_SELECT } from "./groups.js";
import { serializeDirectoryObject, serializeServicePrincipal, serializeSku, serializeSubscription } from "./serialize.js";

/** GET /subscribedSkus (Graph supports no $filter here). */
export function subscribedSkus(ctx: GraphContext, req: SimRequest, id?: string): SimResponse {
  if (req.url.searchParams.has("$filter")) throw new SimError(400, "Request_UnsupportedQuery", "The query specified in the URI is not valid. Filtering is not supported on subscribedSkus.");
  const dir = ctx.state.directory;
  if (id !== undefined) {
    const key = decodeURIComponent(id).toLowerCase();
    const sku = dir.skuOrder.find((s) => s.id.toLowerCase() === key || s.skuId === key);
    if (!sku) throw resourceNotFound(id);
    return graphJson({ "@odata.context": `${ctx.base}/$metadata#subscribedSkus/$entity`, ...serializeSku(dir.tenantId, sku) });
  }
  return graphJson({ "@odata.context": `${ctx.base}/$metadata#subscribedSkus`, value: dir.skuOrder.map((s) => serializeSku(dir.tenantId, s)) });
}

/** GET /directory/subscriptions (companySubscription): kind (trial, self-service) and renewal date. */
export function companySubscriptions(ctx: GraphContext, _req: SimRequest, id?: string): SimResponse {
  const dir = ctx.state.directory;
  if (id !== undefined) {
    const key = decodeURIComponent(id).toLowerCase();
    const sku = dir.skuOrder.find((s) => s.subscription.id.toLowerCase() === key || s.subscription.commerceSubscriptionId.toLowerCase() === key);
    if (!sku) throw resourceNotFound(id);
    return graphJson({ "@odata.context": `${ctx.base}/$metadata#directory/subscriptions/$entity`, ...serializeSubscription(dir.tenantId, sku) });
  }
  return graphJson({ "@odata.context": `${ctx.base}/$metadata#directory/subscriptions`, value: dir.skuOrder.map((s) => serializeSubscription(dir.tenantId, s)) });
}

export function organization(ctx: GraphContext): SimResponse {
  const dir = ctx.state.directory;
  return graphJson({
    "@odata.context": `${ctx.base}/$metadata#organization`,
    value: [{
      id: dir.tenantId,
      displayName: dir.displayName,
      countryLetterCode: dir.countryLetterCode,
      tenantType: "AAD",
      verifiedDomains: [{ capabilities: "Email, OfficeCommunicationsOnline", isDefault: true, isInitial: true, name: dir.defaultDomain, type: "Managed" }],
    }],
  });
}

function serializeRole(role: DirectoryRoleRec): Record<string, unknown> {
  return { id: role.id, deletedDateTime: null, description: `${role.displayName} role`, displayName: role.displayName, roleTemplateId: role.roleTemplateId };
}

export function directoryRoles(ctx: GraphContext): SimResponse {
  return graphJson({ "@odata.context": `${ctx.base}/$metadata#directoryRoles`, value: [...ctx.state.directory.roles.values()].map(serializeRole) });
}

function findRole(ctx: GraphContext, key: string): DirectoryRoleRec {
  const dir = ctx.state.directory;
  const k = decodeURIComponent(key).toLowerCase();
  const templ = /^roletemplateid=['"]?([0-9a-f-]{36})['"]?$/i.exec(k);
  for (const role of dir.roles.values()) {
    if (templ ? role.roleTemplateId === templ[1] : role.id === k || role.roleTemplateId === k) return role;
  }
  throw resourceNotFound(key);
}

export function directoryRole(ctx: GraphContext, key: string): SimResponse {
  return graphJson({ "@odata.context": `${ctx.base}/$metadata#directoryRoles/$entity`, ...serializeRole(findRole(ctx, key)) });
}

/**
 * GET /directoryRoles/{id}/members: the principals the role is assigned to, each with its
 * `@odata.type`. A role assigned to a (role-assignable) group lists the group, not its members.
 */
export function directoryRoleMembers(ctx: GraphContext, req: SimRequest, key: string): SimResponse {
  const role = findRole(ctx, key);
  const dir = ctx.state.directory;
  const select = parseSelect(req.url.searchParams.get("$select"), MEMBER_SELECT, "directoryObject");
  const value = [...role.members].filter((id) => dir.principalExists(id) && !dir.users.get(id)?.deletedDateTime)
    .map((id) => serializeDirectoryObject(dir, id, select));
  return graphJson({ "@odata.context": `${ctx.base}/$metadata#directoryObjects`, value });
}

/** GET /roleManagement/directory/roleAssignments?$filter=roleDefinitionId eq '<template id>' (or principalId eq ...). */
export function roleAssignments(ctx: GraphContext, req: SimRequest): SimResponse {
  const dir = ctx.state.directory;
  const filter = parseGraphFilter(req.url.searchParams.get("$filter"), ["roleDefinitionId", "principalId", "directoryScopeId"], "UnifiedRoleAssignment");
  const expandPrincipal = /principal/i.test(req.url.searchParams.get("$expand") ?? "");
  const value: unknown[] = [];
  for (const role of dir.roles.values()) {
    for (const principalId of role.members) {
      if (!dir.principalExists(principalId) || dir.users.get(principalId)?.deletedDateTime) continue;
      const assignment: Record<string, unknown> = {
        id: Buffer.from(`${role.roleTemplateId}:${principalId}`).toString("base64url"),
        principalId,
        roleDefinitionId: role.roleTemplateId,
        directoryScopeId: "/",
      };
      if (filter && !evaluateFilter(filter, (path) => assignment[path[0] ?? ""])) continue;
      if (expandPrincipal) assignment.principal = serializeDirectoryObject(dir, principalId, null);
      value.push(assignment);
    }
  }
  return graphJson({ "@odata.context": `${ctx.base}/$metadata#roleManagement/directory/roleAssignments`, value });
}

export function servicePrincipals(ctx: GraphContext, req: SimRequest, key?: string): SimResponse {
  const dir = ctx.state.directory;
  if (key !== undefined) {
    const k = decodeURIComponent(key).toLowerCase();
    const byApp = /^appid=['"]?([0-9a-f-]{36})['"]?$/i.exec(k);
    const sp = byApp ? dir.spByAppId.get(byApp[1] ?? "") : dir.servicePrincipals.get(k);
    if (!sp) throw resourceNotFound(key);
    return graphJson({ "@odata.context": `${ctx.base}/$metadata#servicePrincipals/$entity`, ...serializeServicePrincipal(sp) });
  }
  const filter = parseGraphFilter(req.url.searchParams.get("$filter"), ["id", "appId", "displayName", "servicePrincipalType"], "ServicePrincipal");
  const value = [...dir.servicePrincipals.values()].sort((a, b) => a.seq - b.seq).map(serializeServicePrincipal)
    .filter((sp) => !filter || evaluateFilter(filter, (path) => sp[path[0] ?? ""]));
  return graphJson({ "@odata.context": `${ctx.base}/$metadata#servicePrincipals`, value });
}

const SIGNIN_FILTER_PROPS = ["createdDateTime", "appId", "userId", "userPrincipalName", "appDisplayName", "status", "isInteractive", "id"];

function signInProperty(s: SignInRec, path: string[]): unknown {
  const [head, sub] = path;
  if (head === "status") return sub ? (s.status as Record<string, unknown>)[sub] : s.status;
  return (s as unknown as Record<string, unknown>)[head ?? ""];
}

function serializeSignIn(s: SignInRec): Record<string, unknown> {
  return {
    id: s.id,
    createdDateTime: s.createdDateTime,
    userDisplayName: s.userDisplayName,
    userPrincipalName: s.userPrincipalName,
    userId: s.userId,
    appId: s.appId,
    appDisplayName: s.appDisplayName,
    ipAddress: s.ipAddress,
    clientAppUsed: s.clientAppUsed,
    correlationId: s.id,
    conditionalAccessStatus: "notApplied",
    isInteractive: s.isInteractive,
    riskDetail: "none",
    riskLevelAggregated: "none",
    riskLevelDuringSignIn: "none",
    riskState: "none",
    riskEventTypes_v2: [],
    resourceDisplayName: s.resourceDisplayName,
    resourceId: s.appId,
    status: s.status,
    deviceDetail: { deviceId: "", displayName: "", operatingSystem: "Windows10", browser: "Edge", isCompliant: false, isManaged: false, trustType: "" },
    location: { city: "Amsterdam", state: "Noord-Holland", countryOrRegion: "NL", geoCoordinates: { altitude: null, latitude: 52.37, longitude: 4.89 } },
    appliedConditionalAccessPolicies: [],
  };
}

/** GET /auditLogs/signIns: newest first, $filter on createdDateTime/appId/userId/..., $top up to 1000. */
export function signIns(ctx: GraphContext, req: SimRequest): SimResponse {
  const q = req.url.searchParams;
  const top = parseTop(q.get("$top"), 1000, 1000);
  const filter = parseGraphFilter(q.get("$filter"), SIGNIN_FILTER_PROPS, "SignIn");
  const token = q.get("$skiptoken");
  const offset = token === null ? 0 : Number(decodeToken(token)?.o ?? Number.NaN);
  if (!Number.isInteger(offset) || offset < 0) throw new SimError(400, "Request_BadRequest", "The specified page token value has expired or is invalid.");
  const matches = ctx.state.signIns.filter((s) => !filter || evaluateFilter(filter, (path) => signInProperty(s, path)));
  const page = matches.slice(offset, offset + top);
  const body: Record<string, unknown> = { "@odata.context": `${ctx.base}/$metadata#auditLogs/signIns` };
  if (offset + top < matches.length) body["@odata.nextLink"] = `${ctx.base}/auditLogs/signIns?${withSkipToken(req.url, encodeToken({ o: offset + top }))}`;
  body.value = page.map(serializeSignIn);
  return graphJson(body);
}
