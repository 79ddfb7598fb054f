import { environmentPolicy } from "./environment-types.js";
import { licenseStanding } from "./licensing.js";
import type { DirectoryUser, PlatformEnvironment, RecordKind, TenantFacts } from "./model.js";

/**
 * Eligibility (D2, with D5's environment types and D7's non-interactive users): a pure function of
 * the user, the tenant's licenses and admins, the environment and the user's record if there is
 * one. The periodic sync and the diagnostics endpoint (D10) both call it, so the explanation an
 * admin reads is the rule the sync applied.
 *
 * Every rule is judged twice: for the periodic (background) sync, and for an on-demand add (first
 * access or the API), where D2's extra exceptions apply (app passes, a tenant Marketing license,
 * Microsoft 365's free Dataverse plans, the group's owner).
 */

export const RULE_IDS = ["D2.notDeleted", "D2.accountEnabled", "D2.license", "D2.securityGroup", "D5.environment", "D5.addPath"] as const;
export type RuleId = (typeof RULE_IDS)[number];

export interface RuleResult {
  id: RuleId;
  title: string;
  /** Whether the rule holds for the periodic sync. */
  passed: boolean;
  /** Whether it holds for an on-demand add. */
  passedOnDemand: boolean;
  /** The data the rule used. */
  data: Record<string, unknown>;
  /** The exception that made it pass, when one did. */
  exception?: string;
  /** What would change the outcome, when it fails. */
  lever?: string;
  /** Only about adding users (not about keeping an existing record enabled). */
  addOnly?: boolean;
}

export type AdminRole = "Global Administrator" | "Power Platform Administrator" | "Dynamics 365 Administrator";

export interface Eligibility {
  rules: RuleResult[];
  /** The periodic sync may add the user. */
  addInBackground: boolean;
  /** An on-demand add (first access, API) may add or re-enable the user. */
  addOnDemand: boolean;
  /** The periodic sync may re-enable a disabled record. */
  reenableInBackground: boolean;
  /** An existing record may stay enabled (otherwise D3: it is disabled). */
  keep: boolean;
  /** D8: read-write for licensed users, administrative for admins without a license. */
  accessMode: "readWrite" | "administrative";
  adminRoles: AdminRole[];
}

export interface EligibilityInput {
  /** Null when Entra no longer knows the user (hard-deleted, or never seen). */
  user: DirectoryUser | null;
  userId: string;
  tenant: TenantFacts;
  environment: PlatformEnvironment;
  /** The user's record in the environment, when there is one. */
  record?: { kind: RecordKind } | null;
}

export function adminRolesOf(userId: string, tenant: Pick<TenantFacts, "admins">): AdminRole[] {
  const roles: AdminRole[] = [];
  if (tenant.admins.global.includes(userId)) roles.push("Global Administrator");
  if (tenant.admins.powerPlatform.includes(userId)) roles.push("Power Platform Administrator");
  if (tenant.admins.dynamics.includes(userId)) roles.push("Dynamics 365 Administrator");
  return roles;
}

function rule(r: RuleResult): RuleResult {
  return r;
}

export function evaluateEligibility(input: EligibilityInput): Eligibility {
  const { user, userId, tenant, environment: env } = input;
  const policy = environmentPolicy(env);
  const adminRoles = adminRolesOf(userId, tenant);
  const tenantAdmin = adminRoles.includes("Global Administrator") || adminRoles.includes("Power Platform Administrator");
  const anyAdmin = adminRoles.length > 0;
  const nonInteractive = input.record?.kind === "nonInteractive";
  const rules: RuleResult[] = [];

  const removed = user === null ? "hard" : (user.removed ?? null);
  rules.push(rule({
    id: "D2.notDeleted",
    title: "The user exists in Entra ID and is not deleted or soft-deleted",
    passed: removed === null,
    passedOnDemand: removed === null,
    data: { removed: removed ?? "no" },
    ...(removed !== null && {
      lever: removed === "soft" ? "Restore the user in Entra ID (soft-deleted users can be restored for 30 days)." : "The user is deleted in Entra ID; nothing in this product brings it back.",
    }),
  }));

  const enabled = user?.accountEnabled ?? false;
  rules.push(rule({
    id: "D2.accountEnabled",
    title: "The user's account is enabled (sign-in allowed) in Entra ID",
    passed: enabled,
    passedOnDemand: enabled,
    data: { accountEnabled: user?.accountEnabled ?? null },
    ...(!enabled && { lever: "Allow sign-in for the user in Entra ID (unblock the account)." }),
  }));

  rules.push(licenseRule(input, { adminRoles, nonInteractive, licenseNeeded: policy.licenseNeeded }));
  rules.push(groupRule(input, { adminRoles, tenantAdmin }));

  const isCreator = env.createdBy !== null && env.createdBy.toLowerCase() === userId.toLowerCase();
  const envOk = policy.usersAllowed && (!policy.onlyCreator || isCreator);
  rules.push(rule({
    id: "D5.environment",
    title: "The environment's type allows this user",
    passed: envOk,
    passedOnDemand: envOk,
    data: { type: env.type, hasDataverse: env.dataverse !== null, ...(policy.onlyCreator && { createdBy: env.createdBy }) },
    ...(!envOk && {
      lever: !policy.usersAllowed
        ? "The environment has no Dataverse database: add one in the Power Platform admin center before it can have users."
        : "A Developer environment has only its creator as a user.",
    }),
  }));

  rules.push(rule({
    id: "D5.addPath",
    title: "How users join this type of environment",
    passed: policy.backgroundAdds,
    passedOnDemand: policy.usersAllowed,
    addOnly: true,
    data: { type: env.type, periodicSyncAdds: policy.backgroundAdds },
    ...(!policy.backgroundAdds && policy.usersAllowed && {
      lever: `${policy.summary} Add the user with POST …/environments/${env.id}/users, or let the user open the environment.`,
    }),
  }));

  const keepRules = rules.filter((r) => !r.addOnly);
  const licensed = licenseStanding(user?.licenses ?? [], tenant).granting.length > 0;
  return {
    rules,
    addInBackground: rules.every((r) => r.passed),
    addOnDemand: rules.every((r) => r.passedOnDemand),
    reenableInBackground: keepRules.every((r) => r.passed),
    keep: keepRules.every((r) => r.passedOnDemand),
    accessMode: !licensed && anyAdmin ? "administrative" : "readWrite",
    adminRoles,
  };
}

function licenseRule(
  input: EligibilityInput,
  ctx: { adminRoles: AdminRole[]; nonInteractive: boolean; licenseNeeded: boolean },
): RuleResult {
  const { user, tenant, environment: env } = input;
  const standing = licenseStanding(user?.licenses ?? [], tenant);
  const guest = user?.userType === "Guest";
  const data = {
    userType: user?.userType ?? null,
    grantingLicenses: standing.granting,
    freeDataversePlanLicenses: standing.freeDataverseOnly,
    otherLicenses: standing.other,
    adminRoles: ctx.adminRoles,
    nonInteractive: ctx.nonInteractive,
    tenantMarketingLicense: tenant.marketing,
    environmentAppPasses: env.appPassCapacity,
    ...(guest && { note: "A guest needs a license from this (the environment's) tenant; licenses of the guest's home tenant do not count." }),
  };
  const base = { id: "D2.license" as const, title: "The user holds a valid license (or an exception applies)", data };
  if (standing.granting.length > 0) return { ...base, passed: true, passedOnDemand: true };
  const strictException = ctx.adminRoles.length > 0
    ? `${ctx.adminRoles.join(", ")}: administrators need no license (they get administrative access mode)`
    : ctx.nonInteractive
      ? "Non-interactive users need no license"
      : !ctx.licenseNeeded
        ? "Dataverse for Teams: team membership gives access without a Power Platform license"
        : undefined;
  if (strictException) return { ...base, passed: true, passedOnDemand: true, exception: strictException };
  const onDemandException = standing.freeDataverseOnly.length > 0
    ? `On-demand adds honour the free Dataverse plan of ${standing.freeDataverseOnly.join(", ")}`
    : env.appPassCapacity
      ? "On-demand adds: the environment has app-pass capacity"
      : tenant.marketing
        ? "On-demand adds: the tenant has a tenant-level Marketing license"
        : undefined;
  const lever = guest
    ? "Assign the guest a license of this tenant that includes Dataverse access (e.g. Power Apps per user)."
    : "Assign a license that includes Dataverse access (e.g. Power Apps per user, a Dynamics 365 app, or a Microsoft 365 plan with Power Apps).";
  if (onDemandException) return { ...base, passed: false, passedOnDemand: true, exception: onDemandException, lever: `${lever} Until then the user can only be added on demand.` };
  return { ...base, passed: false, passedOnDemand: false, lever };
}

function groupRule(input: EligibilityInput, ctx: { adminRoles: AdminRole[]; tenantAdmin: boolean }): RuleResult {
  const { user, tenant, environment: env } = input;
  const groupId = env.dataverse?.securityGroupId?.toLowerCase() ?? null;
  const base = { id: "D2.securityGroup" as const, title: "The user is a direct member of the environment's security group (when one is set)" };
  if (!groupId) return { ...base, passed: true, passedOnDemand: true, data: { securityGroupId: null } };
  const member = user?.groups.includes(groupId) ?? false;
  const owner = (tenant.owners[groupId] ?? []).includes(input.userId.toLowerCase());
  const data = { securityGroupId: groupId, directMember: member, owner, adminRoles: ctx.adminRoles, nestedGroupsCount: false };
  if (member) return { ...base, passed: true, passedOnDemand: true, data };
  if (ctx.tenantAdmin) {
    return { ...base, passed: true, passedOnDemand: true, data, exception: "Global and Power Platform administrators are exempt from the security group" };
  }
  const lever = `Add the user as a direct member of security group ${groupId} (members of nested groups do not count${
    ctx.adminRoles.includes("Dynamics 365 Administrator") ? "; Dynamics 365 administrators are not exempt" : ""
  }).`;
  if (owner) return { ...base, passed: false, passedOnDemand: true, data, exception: "The group's owner counts as a member for on-demand adds", lever };
  return { ...base, passed: false, passedOnDemand: false, data, lever };
}
