import type { RuleId } from "./eligibility.js";
import type { DRIFT_KINDS } from "./documents.js";
import type { PlatformEnvironment } from "./model.js";

export type DriftKind = (typeof DRIFT_KINDS)[number];

/**
 * D0/D10: the lever that fixes a difference between the rules and what Dataverse holds, when the
 * platform refused the sync's own change. In Microsoft-hosted Dataverse the status of a
 * directory-synced user is the platform's: it disables a record once the user has no license or
 * is no longer a direct member of the environment's security group, and adds or re-enables one
 * through addUser (which applies the platform's own checks).
 */
export function driftLever(kind: DriftKind, failedRules: readonly string[], env: Pick<PlatformEnvironment, "id" | "dataverse">, platformMessage?: string): string {
  const group = env.dataverse?.securityGroupId;
  switch (kind) {
    case "enabledButIneligible": {
      const rules = new Set(failedRules as RuleId[]);
      if (rules.has("D2.notDeleted")) return "The user is deleted or soft-deleted in Entra ID; the platform disables the record at its next directory sync. If the deletion was a mistake, restore the user in Entra ID (possible for 30 days, while it is soft-deleted; a user deleted permanently cannot come back).";
      if (rules.has("D2.accountEnabled")) return `The user's account is disabled in Entra ID; the platform disables the record at its next directory sync. Refresh the user (POST …/environments/${env.id}/users/{userId}/refresh) to apply it now.`;
      // Entra already says so (that is why the rule fails): nothing for the admin to remove; say what happens and what to check.
      const why = [
        ...(rules.has("D2.license") ? ["holds no license that grants access to this environment"] : []),
        ...(rules.has("D2.securityGroup") && group ? [`is not a direct member of security group ${group}`] : []),
      ];
      return `${why.length ? `Entra ID already shows that the user ${why.join(" and ")}. ` : ""}Dataverse manages the status of directory-synced users, so the platform disables the record at its next directory sync (minutes to over an hour); this product checks again at every run. If it stays enabled after that, the platform still counts the user as eligible: compare what it sees with this user's diagnostics (GET …/environments/${env.id}/users/{userId}/diagnostics).`;
    }
    case "eligibleButNotAdded":
    case "disabledButEligible":
      return `The platform refused to ${kind === "eligibleButNotAdded" ? "add" : "re-enable"} the user${platformMessage ? ` (${platformMessage})` : ""}. Give the user what the platform asks for (a license it recognises${group ? `, direct membership of security group ${group}` : ""}), then refresh the user.`;
    case "writeRefused":
      return `Dataverse refused the change${platformMessage ? ` (${platformMessage})` : ""}; change the record in the Power Platform admin center or refresh the user.`;
  }
}
