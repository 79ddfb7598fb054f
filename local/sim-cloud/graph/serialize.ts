import { assignedLicensesOf, isAssignableToRole, type Directory } from "../state/directory.js";
import type { GroupRec, ServicePrincipalRec, SkuRec, UserRec } from "../state/types.js";

/** Properties Graph returns for a user when no $select is given. */
export const USER_DEFAULT_PROPS = [
  "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation", "preferredLanguage",
  "surname", "userPrincipalName", "id",
] as const;

export const USER_PROPS = [
  ...USER_DEFAULT_PROPS, "accountEnabled", "userType", "usageLocation", "assignedLicenses", "assignedPlans",
  "licenseAssignmentStates", "createdDateTime", "deletedDateTime", "department", "streetAddress", "city", "state", "country", "companyName",
  "onPremisesSyncEnabled", "creationType", "externalUserState", "mailNickname", "otherMails", "proxyAddresses",
] as const;

export const USER_FILTER_PROPS = [
  "id", "userPrincipalName", "displayName", "givenName", "surname", "mail", "userType", "accountEnabled", "usageLocation",
  "jobTitle", "department", "createdDateTime", "streetAddress", "city", "country", "state", "companyName", "assignedLicenses", "onPremisesSyncEnabled",
  "mailNickname", "otherMails", "proxyAddresses",
] as const;

/** The licenses a read shows: as they were before the last write while its replication lag lasts (settings.graph.licenseReadLagMs). */
function readLicenses(u: UserRec) {
  return u.licensesReadLag && Date.now() < u.licensesReadLag.until ? u.licensesReadLag.licenses : u.licenses;
}

export function userProperty(dir: Directory, u: UserRec, prop: string): unknown {
  switch (prop) {
    case "assignedLicenses":
      return u.deletedDateTime ? [] : assignedLicensesOf(readLicenses(u));
    case "assignedPlans":
      return assignedPlans(dir, u);
    case "licenseAssignmentStates":
      // A read from a replica that lags the write shows the whole license state as it was.
      return readLicenses(u).map((l) => ({
        assignedByGroup: l.assignedByGroup,
        disabledPlans: l.disabledPlans,
        error: l.error,
        lastUpdatedDateTime: l.lastUpdatedDateTime,
        skuId: l.skuId,
        state: l.state,
      }));
    case "onPremisesSyncEnabled":
      return null;
    case "creationType":
      return u.userType === "Guest" ? "Invitation" : null;
    case "externalUserState":
      return u.userType === "Guest" ? "Accepted" : null;
    case "mailNickname":
      return u.userPrincipalName.split("@")[0] ?? null;
    case "otherMails":
      return [];
    case "proxyAddresses":
      return u.mail ? [`SMTP:${u.mail}`] : [];
    default:
      return (u as unknown as Record<string, unknown>)[prop] ?? null;
  }
}

function assignedPlans(dir: Directory, u: UserRec): unknown[] {
  const out: unknown[] = [];
  if (u.deletedDateTime) return out;
  const seen = new Set<string>();
  for (const l of u.licenses) {
    if (l.state !== "Active" && l.state !== "ActiveWithError") continue;
    const sku = dir.skus.get(l.skuId);
    for (const p of sku?.servicePlans ?? []) {
      if (seen.has(p.servicePlanId)) continue;
      seen.add(p.servicePlanId);
      out.push({
        assignedDateTime: l.assignedDateTime,
        capabilityStatus: l.disabledPlans.includes(p.servicePlanId) ? "Deleted" : "Enabled",
        service: p.service,
        servicePlanId: p.servicePlanId,
      });
    }
  }
  return out;
}

export function serializeUser(dir: Directory, u: UserRec, select: readonly string[] | null, alwaysId = false): Record<string, unknown> {
  const props = select ?? USER_DEFAULT_PROPS;
  const out: Record<string, unknown> = {};
  if (alwaysId && !props.includes("id")) out.id = u.id;
  for (const p of props) out[p] = userProperty(dir, u, p);
  return out;
}

export const GROUP_DEFAULT_PROPS = [
  "id", "deletedDateTime", "createdDateTime", "description", "displayName", "groupTypes", "mail", "mailEnabled", "mailNickname",
  "securityEnabled", "visibility",
] as const;
export const GROUP_PROPS = [...GROUP_DEFAULT_PROPS, "assignedLicenses", "membershipRule", "isAssignableToRole", "members"] as const;
export const GROUP_FILTER_PROPS = ["id", "displayName", "securityEnabled", "mailEnabled", "mailNickname", "groupTypes", "assignedLicenses", "createdDateTime"] as const;

export function groupProperty(g: GroupRec, prop: string): unknown {
  switch (prop) {
    case "mail":
      return g.mailEnabled ? `${g.mailNickname}@example.invalid` : null;
    case "visibility":
      return g.groupTypes.includes("Unified") ? "Private" : null;
    case "membershipRule":
      return null;
    case "isAssignableToRole":
      return isAssignableToRole(g);
    default:
      return (g as unknown as Record<string, unknown>)[prop] ?? null;
  }
}

export function serializeGroup(g: GroupRec, select: readonly string[] | null, alwaysId = false): Record<string, unknown> {
  const props = (select ?? GROUP_DEFAULT_PROPS).filter((p) => p !== "members");
  const out: Record<string, unknown> = {};
  if (alwaysId && !props.includes("id")) out.id = g.id;
  for (const p of props) out[p] = groupProperty(g, p);
  return out;
}

export function serializeServicePrincipal(sp: ServicePrincipalRec): Record<string, unknown> {
  return {
    id: sp.id,
    appId: sp.appId,
    displayName: sp.displayName,
    accountEnabled: true,
    servicePrincipalType: "Application",
    appOwnerOrganizationId: null,
  };
}

/** A directory object inside members / memberOf collections, with its @odata.type. */
export function serializeDirectoryObject(dir: Directory, id: string, select: readonly string[] | null): Record<string, unknown> {
  const user = dir.users.get(id);
  if (user) return { "@odata.type": "#microsoft.graph.user", ...serializeUser(dir, user, select, true) };
  const group = dir.groups.get(id);
  if (group) return { "@odata.type": "#microsoft.graph.group", ...serializeGroup(group, select, true) };
  const sp = dir.servicePrincipals.get(id);
  if (sp) return { "@odata.type": "#microsoft.graph.servicePrincipal", ...serializeServicePrincipal(sp) };
  return { "@odata.type": "#microsoft.graph.directoryObject", id };
}

export function odataTypeOf(dir: Directory, id: string): string {
  if (dir.groups.has(id)) return "#microsoft.graph.group";
  if (dir.servicePrincipals.has(id)) return "#microsoft.graph.servicePrincipal";
  return "#microsoft.graph.user";
}

export function serializeSku(tenantId: string, s: SkuRec): Record<string, unknown> {
  return {
    accountId: tenantId,
    appliesTo: s.appliesTo,
    capabilityStatus: s.capabilityStatus,
    consumedUnits: s.consumedUnits,
    id: s.id,
    prepaidUnits: { ...s.prepaidUnits },
    servicePlans: s.servicePlans.map((p) => ({
      servicePlanId: p.servicePlanId,
      servicePlanName: p.servicePlanName,
      provisioningStatus: p.provisioningStatus,
      appliesTo: p.appliesTo,
    })),
    skuId: s.skuId,
    skuPartNumber: s.skuPartNumber,
    subscriptionIds: [s.subscription.id],
  };
}

export function serializeSubscription(tenantId: string, s: SkuRec): Record<string, unknown> {
  return {
    id: s.subscription.id,
    commerceSubscriptionId: s.subscription.commerceSubscriptionId,
    createdDateTime: s.subscription.createdDateTime,
    isTrial: s.subscription.isTrial,
    nextLifecycleDateTime: s.subscription.nextLifecycleDateTime,
    ownerId: s.subscription.ownerId,
    ownerTenantId: s.subscription.ownerTenantId ?? (s.subscription.ownerType ? tenantId : null),
    ownerType: s.subscription.ownerType,
    serviceStatus: s.servicePlans.map((p) => ({
      appliesTo: p.appliesTo,
      provisioningStatus: p.provisioningStatus,
      servicePlanId: p.servicePlanId,
      servicePlanName: p.servicePlanName,
    })),
    skuId: s.skuId,
    skuPartNumber: s.skuPartNumber,
    status: s.subscription.status,
    totalLicenses: s.prepaidUnits.enabled + s.prepaidUnits.warning + s.prepaidUnits.suspended + s.prepaidUnits.lockedOut,
  };
}
