import { environmentPolicy } from "./environment-types.js";
import { licenseStanding, type LicenseStanding } from "./licensing.js";
import type { DirectoryUser, PlatformEnvironment, RecordKind, TenantFacts } from "./model.js";

/**
 * Eligibility (D2, with D5's environment types and D7's non-interactive users): a pure function of
 * the user, the tenant's licenses and admins, the environment and the user's record if there is
 * one. The periodic sync and the diagnostics endpoint (D10) both call it, so the explanation an
 * admin reads is the rule the sync applied.
 *
 * Every rule is judged twice: for the periodic (background) sync, and for an on-demand add (first
 * access or the API), where D2's extra exceptions apply (app passes, a tenant Marketing license,
 * Microsoft 365's free Dataverse plans, the group's owner). Which on-demand path (`addPath`)
 * matters too: Dataverse for Teams environments get users only at their first access (D5).
 */

/** How an on-demand add happens (D4): at the user's first access to the environment, or by an admin through the API. */
export type AddPath = "firstAccess" | "api";

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
  /** D5: the environment's type lets an admin add users through the API (not only at their first access). */
  apiAdds: boolean;
}

export interface EligibilityInput {
  /** Null when Entra no longer knows the user (hard-deleted, or never seen). */
  user: DirectoryUser | null;
  userId: string;
  tenant: TenantFacts;
  environment: PlatformEnvironment;
  /** The user's record in the environment, when there is one. */
  record?: { kind: RecordKind } | null;
  /**
   * The path of the on-demand add being judged. Unset (the periodic sync, diagnostics): an
   * on-demand add by whichever path the environment's type allows.
   */
  addPath?: AddPath;
  /**
   * false: only the verdicts (each rule's id, title and outcome; no data, exception or lever). The
   * periodic sync judges every user of a full cycle and reads nothing else; the explanation costs
   * several times the verdict. Diagnostics and on-demand adds explain (the default).
   */
  explain?: boolean;
}

/** The data of a rule judged without explanation. */
const NOT_EXPLAINED: Record<string, unknown> = Object.freeze({});

export function adminRolesOf(userId: string, tenant: Pick<TenantFacts, "admins">): AdminRole[] {
  const roles: AdminRole[] = [];
  if (tenant.admins.global.includes(userId)) roles.push("Global Administrator");
  if (tenant.admins.powerPlatform.includes(userId)) roles.push("Power Platform Administrator");
  if (tenant.admins.dynamics.includes(userId)) roles.push("Dynamics 365 Administrator");
  return roles;
}


export function evaluateEligibility(input: EligibilityInput): Eligibility {
  const { user, userId, tenant, environment: env } = input;
  const policy = environmentPolicy(env);
  const adminRoles = adminRolesOf(userId, tenant);
  const tenantAdmin = adminRoles.includes("Global Administrator") || adminRoles.includes("Power Platform Administrator");
  const anyAdmin = adminRoles.length > 0;
  const nonInteractive = input.record?.kind === "nonInteractive";
  const explain = input.explain !== false;
  const rules: RuleResult[] = [];

  const removed = user === null ? "hard" : (user.removed ?? null);
  rules.push({
    id: "D2.notDeleted",
    title: "The user exists in Entra ID and is not deleted or soft-deleted",
    passed: removed === null,
    passedOnDemand: removed === null,
    data: explain ? { removed: removed ?? "no" } : NOT_EXPLAINED,
    ...(explain && removed !== null && {
      lever: removed === "soft" ? "Restore the user in Entra ID (soft-deleted users can be restored for 30 days)." : "Entra ID has no user with this id: deleted for good (past the 30 days of deleted items), or the id is wrong. Nothing in this product brings it back.",
    }),
  });

  const enabled = user?.accountEnabled ?? false;
  rules.push({
    id: "D2.accountEnabled",
    title: "The user's account is enabled (sign-in allowed) in Entra ID",
    passed: enabled,
    passedOnDemand: enabled,
    data: explain ? { accountEnabled: user?.accountEnabled ?? null } : NOT_EXPLAINED,
    ...(explain && !enabled && { lever: "Allow sign-in for the user in Entra ID (unblock the account)." }),
  });

  const standing = licenseStanding(user?.licenses ?? [], tenant);
  rules.push(licenseRule(input, { adminRoles, nonInteractive, standing, explain }));
  rules.push(groupRule(input, { adminRoles, tenantAdmin, explain }));

  // A Developer environment whose creator the platform does not name: no user can be shown to be
  // its creator, so no one is added or re-enabled - and no record is disabled on that account (the
  // real creator's would be), so the rule is then about adding only.
  const creatorUnknown = policy.usersAllowed && policy.onlyCreator && env.createdBy === null;
  const isCreator = env.createdBy !== null && env.createdBy.toLowerCase() === userId.toLowerCase();
  const envOk = policy.usersAllowed && (!policy.onlyCreator || isCreator);
  rules.push({
    id: "D5.environment",
    title: "The environment's type allows this user",
    passed: envOk,
    passedOnDemand: envOk,
    data: explain ? { type: env.type, hasDataverse: env.dataverse !== null, ...(policy.onlyCreator && { createdBy: env.createdBy, creatorKnown: !creatorUnknown }) } : NOT_EXPLAINED,
    ...(creatorUnknown && { addOnly: true }),
    ...(explain && !envOk && {
      lever: !policy.usersAllowed
        ? "The environment has no Dataverse database: add one in the Power Platform admin center before it can have users."
        : creatorUnknown
          ? "The platform does not name the environment's creator (the Power Platform admin API gives no Entra object id for it), so this Developer environment gets no users from this product; existing records are not disabled on this rule."
          : "A Developer environment has only its creator as a user.",
    }),
  });

  const pathOnDemand = policy.usersAllowed && (input.addPath !== "api" || policy.apiAdds);
  rules.push({
    id: "D5.addPath",
    title: "How users join this type of environment",
    passed: policy.backgroundAdds,
    passedOnDemand: pathOnDemand,
    addOnly: true,
    data: explain ? { type: env.type, periodicSyncAdds: policy.backgroundAdds, apiAdds: policy.apiAdds, ...(input.addPath && { addPath: input.addPath }) } : NOT_EXPLAINED,
    ...(explain && policy.usersAllowed && !policy.apiAdds && {
      lever: `${policy.summary} The user is added when they first open the environment (in Teams); neither the periodic sync nor an admin through the API can add them.`,
    }),
    ...(explain && policy.usersAllowed && policy.apiAdds && !policy.backgroundAdds && {
      lever: `${policy.summary} Add the user with POST …/environments/${env.id}/users, or let the user open the environment.`,
    }),
  });

  // A removed user's account, licenses and groups cannot be changed, only judged again after a restore.
  if (explain && removed !== null) {
    const lever = removed === "soft"
      ? "Restore the user in Entra ID first: its account, licenses and group memberships come back with it, and this rule is judged again."
      : "None: Entra ID has no such user (see D2.notDeleted).";
    for (const r of rules) if (!r.passed && USER_RULES.has(r.id)) r.lever = lever;
  }

  const keepRules = rules.filter((r) => !r.addOnly);
  const licensed = standing.granting.length > 0;
  return {
    rules,
    addInBackground: rules.every((r) => r.passed),
    addOnDemand: rules.every((r) => r.passedOnDemand),
    reenableInBackground: keepRules.every((r) => r.passed) && !creatorUnknown,
    keep: keepRules.every((r) => r.passedOnDemand),
    accessMode: !licensed && anyAdmin ? "administrative" : "readWrite",
    adminRoles,
    apiAdds: policy.apiAdds,
  };
}

/** The rules about the user's own account, licenses and groups (not the environment's type). */
const USER_RULES = new Set<RuleId>(["D2.accountEnabled", "D2.license", "D2.securityGroup"]);

function licenseRule(
  input: EligibilityInput,
  ctx: { adminRoles: AdminRole[]; nonInteractive: boolean; standing: LicenseStanding; explain: boolean },
): RuleResult {
  const { user, tenant, environment: env } = input;
  const { standing } = ctx;
  const guest = user?.userType === "Guest";
  const data = !ctx.explain ? NOT_EXPLAINED : {
    userType: user?.userType ?? null,
    grantingLicenses: standing.granting,
    freeDataversePlanLicenses: standing.freeDataverseOnly,
    otherLicenses: standing.other,
    licensesWithAccessPlansDisabled: standing.grantingPlansDisabled,
    adminRoles: ctx.adminRoles,
    nonInteractive: ctx.nonInteractive,
    tenantMarketingLicense: tenant.marketing,
    environmentAppPasses: env.appPassCapacity,
    ...(guest && {
      note: "A guest needs a license from this (the environment's) tenant; licenses of the guest's home tenant do not count, and neither app passes nor the tenant's Marketing license stand in for one.",
    }),
  };
  const base = { id: "D2.license" as const, title: "The user holds a valid license (or an exception applies)", data };
  if (standing.granting.length > 0) return { ...base, passed: true, passedOnDemand: true };
  const strictException = ctx.adminRoles.length > 0
    ? `${ctx.adminRoles.join(", ")}: administrators need no license (they get administrative access mode)`
    : ctx.nonInteractive
      ? "Non-interactive users need no license"
      : undefined;
  if (strictException) return { ...base, passed: true, passedOnDemand: true, ...(ctx.explain && { exception: strictException }) };
  // D2: a guest needs a license of this tenant. The free Dataverse plan of a Microsoft 365 license
  // the guest holds here is one; the environment's app passes and a tenant-level Marketing license are not.
  const onDemandException = standing.freeDataverseOnly.length > 0
    ? `On-demand adds honour the free Dataverse plan of ${standing.freeDataverseOnly.join(", ")}`
    : env.appPassCapacity && !guest
      ? "On-demand adds: the environment has app-pass capacity"
      : tenant.marketing && !guest
        ? "On-demand adds: the tenant has a tenant-level Marketing license"
        : undefined;
  if (!ctx.explain) return { ...base, passed: false, passedOnDemand: onDemandException !== undefined };
  // A license that would grant access with its Dataverse plans switched off: turning them back on is the lever, not another license.
  const off = standing.grantingPlansDisabled[0];
  const lever = off
    ? `The user holds ${off.product}, which gives Dataverse access, but its service plans that do (${off.servicePlanIds.join(", ")}) are disabled for the user: enable them (PATCH …/users/${input.userId}/licenses/${off.skuId} with disabledPlans that leave them out).`
    : guest
      ? "Assign the guest a license of this tenant that includes Dataverse access (e.g. Power Apps per user); app passes and the tenant's Marketing license do not cover guests."
      : "Assign a license that includes Dataverse access (e.g. Power Apps per user or a Dynamics 365 app; the Power Apps of a Microsoft 365 license counts for on-demand adds only).";
  if (onDemandException) return { ...base, passed: false, passedOnDemand: true, exception: onDemandException, lever: `${lever} Until then the user can only be added on demand.` };
  return { ...base, passed: false, passedOnDemand: false, lever };
}

function groupRule(input: EligibilityInput, ctx: { adminRoles: AdminRole[]; tenantAdmin: boolean; explain: boolean }): RuleResult {
  const { user, tenant, environment: env } = input;
  const groupId = env.dataverse?.securityGroupId?.toLowerCase() ?? null;
  const base = { id: "D2.securityGroup" as const, title: "The user is a direct member of the environment's security group (when one is set)" };
  if (!groupId) return { ...base, passed: true, passedOnDemand: true, data: ctx.explain ? { securityGroupId: null } : NOT_EXPLAINED };
  const member = user?.groups.includes(groupId) ?? false;
  const owner = (tenant.owners[groupId] ?? []).includes(input.userId.toLowerCase());
  const data = ctx.explain ? { securityGroupId: groupId, directMember: member, owner, adminRoles: ctx.adminRoles } : NOT_EXPLAINED;
  if (member) return { ...base, passed: true, passedOnDemand: true, data };
  if (ctx.tenantAdmin) {
    return { ...base, passed: true, passedOnDemand: true, data, ...(ctx.explain && { exception: "Global and Power Platform administrators are exempt from the security group" }) };
  }
  if (!ctx.explain) return { ...base, passed: false, passedOnDemand: owner, data };
  const lever = `Add the user as a direct member of security group ${groupId} (members of nested groups do not count${
    ctx.adminRoles.includes("Dynamics 365 Administrator") ? "; Dynamics 365 administrators are not exempt" : ""
  }).`;
  if (owner) return { ...base, passed: false, passedOnDemand: true, data, exception: "The group's owner counts as a member for on-demand adds", lever };
  return { ...base, passed: false, passedOnDemand: false, data, lever };
}
