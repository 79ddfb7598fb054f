import { SimError } from "../http/errors.js";
import type { SimRequest, SimResponse } from "../http/types.js";
import type { GraphContext } from "./common.js";
import { groupsDelta, usersDelta } from "./delta.js";
import { getGroup, groupMembers, groupMembersCount, groupOwners, groupTransitiveMembers, listGroups } from "./groups.js";
import {
  companySubscriptions, directoryRole, directoryRoleMembers, directoryRoles, organization, roleAssignments, servicePrincipals, signIns,
  subscribedSkus,
} from "./tenant-info.js";
import { countUsers, deletedItem, getUser, licenseDetails, listUsers, memberOf, postAssignLicense } from "./users.js";

type Handler = (ctx: GraphContext, req: SimRequest, params: string[]) => SimResponse;

interface Route {
  method: string;
  pattern: RegExp;
  kind: string;
  /** Identity resource units (facts.md): GET users 2, subscribedSkus 3, licenseDetails 2, members 3, transitiveMembers 5, writes 1. */
  cost: number;
  handler: Handler;
}

const SEG = "([^/]+)";
const DELTA = "(?:delta|microsoft\\.graph\\.delta)(?:\\(\\))?";
/** An OData cast of a member list (`…/members/microsoft.graph.user`): only members of that type. */
const CAST = "(?:/microsoft\\.graph\\.(user|group|servicePrincipal))?";

const ROUTES: Route[] = [
  { method: "GET", pattern: new RegExp(`^/users/${DELTA}$`), kind: "users.delta", cost: 2, handler: (c, r) => usersDelta(c, r) },
  { method: "GET", pattern: /^\/users\/\$count$/, kind: "users.count", cost: 2, handler: (c, r) => countUsers(c, r) },
  { method: "GET", pattern: /^\/users$/, kind: "users.list", cost: 2, handler: (c, r) => listUsers(c, r) },
  { method: "GET", pattern: new RegExp(`^/users/${SEG}/licenseDetails$`), kind: "users.licenseDetails", cost: 2, handler: (c, r, p) => licenseDetails(c, r, p[0] ?? "") },
  { method: "POST", pattern: new RegExp(`^/users/${SEG}/(?:microsoft\\.graph\\.)?assignLicense$`), kind: "users.assignLicense", cost: 1, handler: (c, r, p) => postAssignLicense(c, r, p[0] ?? "") },
  { method: "GET", pattern: new RegExp(`^/users/${SEG}/memberOf$`), kind: "users.memberOf", cost: 2, handler: (c, r, p) => memberOf(c, r, p[0] ?? "", false) },
  { method: "GET", pattern: new RegExp(`^/users/${SEG}/transitiveMemberOf$`), kind: "users.transitiveMemberOf", cost: 5, handler: (c, r, p) => memberOf(c, r, p[0] ?? "", true) },
  { method: "GET", pattern: new RegExp(`^/users/${SEG}$`), kind: "users.get", cost: 2, handler: (c, r, p) => getUser(c, r, p[0] ?? "") },
  { method: "GET", pattern: new RegExp(`^/groups/${DELTA}$`), kind: "groups.delta", cost: 2, handler: (c, r) => groupsDelta(c, r) },
  { method: "GET", pattern: /^\/groups$/, kind: "groups.list", cost: 2, handler: (c, r) => listGroups(c, r) },
  { method: "GET", pattern: new RegExp(`^/groups/${SEG}/members/\\$count$`), kind: "groups.members.count", cost: 3, handler: (c, _r, p) => groupMembersCount(c, p[0] ?? "") },
  { method: "GET", pattern: new RegExp(`^/groups/${SEG}/members${CAST}$`), kind: "groups.members", cost: 3, handler: (c, r, p) => groupMembers(c, r, p[0] ?? "", p[1]) },
  { method: "GET", pattern: new RegExp(`^/groups/${SEG}/transitiveMembers${CAST}$`), kind: "groups.transitiveMembers", cost: 5, handler: (c, r, p) => groupTransitiveMembers(c, r, p[0] ?? "", p[1]) },
  { method: "GET", pattern: new RegExp(`^/groups/${SEG}/owners$`), kind: "groups.owners", cost: 3, handler: (c, r, p) => groupOwners(c, r, p[0] ?? "") },
  { method: "GET", pattern: new RegExp(`^/groups/${SEG}$`), kind: "groups.get", cost: 2, handler: (c, r, p) => getGroup(c, r, p[0] ?? "") },
  { method: "GET", pattern: /^\/subscribedSkus$/, kind: "subscribedSkus", cost: 3, handler: (c, r) => subscribedSkus(c, r) },
  { method: "GET", pattern: new RegExp(`^/subscribedSkus/${SEG}$`), kind: "subscribedSkus", cost: 3, handler: (c, r, p) => subscribedSkus(c, r, p[0]) },
  { method: "GET", pattern: /^\/directory\/subscriptions$/, kind: "directory.subscriptions", cost: 1, handler: (c, r) => companySubscriptions(c, r) },
  { method: "GET", pattern: new RegExp(`^/directory/subscriptions/${SEG}$`), kind: "directory.subscriptions", cost: 1, handler: (c, r, p) => companySubscriptions(c, r, p[0]) },
  { method: "GET", pattern: new RegExp(`^/directory/deletedItems/${SEG}$`), kind: "directory.deletedItems", cost: 1, handler: (c, r, p) => deletedItem(c, r, p[0] ?? "") },
  { method: "GET", pattern: /^\/organization$/, kind: "organization", cost: 1, handler: (c) => organization(c) },
  { method: "GET", pattern: /^\/directoryRoles$/, kind: "directoryRoles", cost: 1, handler: (c) => directoryRoles(c) },
  { method: "GET", pattern: /^\/directoryRoles\(([^)]+)\)\/members$/, kind: "directoryRoles.members", cost: 3, handler: (c, r, p) => directoryRoleMembers(c, r, p[0] ?? "") },
  { method: "GET", pattern: new RegExp(`^/directoryRoles/${SEG}/members$`), kind: "directoryRoles.members", cost: 3, handler: (c, r, p) => directoryRoleMembers(c, r, p[0] ?? "") },
  { method: "GET", pattern: /^\/directoryRoles\(([^)]+)\)$/, kind: "directoryRoles", cost: 1, handler: (c, _r, p) => directoryRole(c, p[0] ?? "") },
  { method: "GET", pattern: new RegExp(`^/directoryRoles/${SEG}$`), kind: "directoryRoles", cost: 1, handler: (c, _r, p) => directoryRole(c, p[0] ?? "") },
  { method: "GET", pattern: /^\/roleManagement\/directory\/roleAssignments$/, kind: "roleManagement.roleAssignments", cost: 1, handler: (c, r) => roleAssignments(c, r) },
  { method: "GET", pattern: /^\/servicePrincipals$/, kind: "servicePrincipals", cost: 1, handler: (c, r) => servicePrincipals(c, r) },
  { method: "GET", pattern: /^\/servicePrincipals\(([^)]+)\)$/, kind: "servicePrincipals", cost: 1, handler: (c, r, p) => servicePrincipals(c, r, p[0]) },
  { method: "GET", pattern: new RegExp(`^/servicePrincipals/${SEG}$`), kind: "servicePrincipals", cost: 1, handler: (c, r, p) => servicePrincipals(c, r, p[0]) },
  { method: "GET", pattern: /^\/auditLogs\/signIns$/, kind: "auditLogs.signIns", cost: 1, handler: (c, r) => signIns(c, r) },
];

export interface ResolvedRoute {
  route: Route;
  params: string[];
}

/** Path after the version segment ("/v1.0"), e.g. "/users/abc". */
export function versionlessPath(path: string): string | null {
  const m = /^\/(?:v1\.0|beta)(\/.*)?$/.exec(path);
  if (!m) return null;
  return (m[1] ?? "/").replace(/\/+$/, "") || "/";
}

export function resolveRoute(method: string, path: string): ResolvedRoute | "method" | null {
  let methodMismatch = false;
  for (const route of ROUTES) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    if (route.method !== method) {
      methodMismatch = true;
      continue;
    }
    return { route, params: m.slice(1) };
  }
  return methodMismatch ? "method" : null;
}

export function unknownSegment(path: string): SimError {
  const seg = path.split("/").filter(Boolean)[0] ?? path;
  return new SimError(400, "BadRequest", `Resource not found for the segment '${seg}'.`);
}
