import { ACCESS_MODES, type RecordKind, type SystemUserRow } from "./model.js";

/**
 * D7: the kind of a systemuser record. Only regular and non-interactive users are the directory
 * sync's business: an application user's object id is a service principal (not a user), support
 * and delegated-admin records are Microsoft's, and stub or system records have no Entra identity.
 */
export function recordKind(row: Pick<SystemUserRow, "applicationid" | "accessmode" | "azureactivedirectoryobjectid" | "domainname">): RecordKind {
  if (row.applicationid) return "application";
  if (row.accessmode === ACCESS_MODES.supportUser) return "supportUser";
  if (row.accessmode === ACCESS_MODES.delegatedAdmin) return "delegatedAdmin";
  if (!row.azureactivedirectoryobjectid) return row.domainname ? "stub" : "system";
  if (row.accessmode === ACCESS_MODES.nonInteractive) return "nonInteractive";
  return "regular";
}

/** How a message names a kind of record ("an application user", "a support user record"). */
export function recordKindWords(kind: RecordKind): string {
  const words: Record<RecordKind, string> = {
    application: "an application user",
    supportUser: "a support user record (access mode 3)",
    delegatedAdmin: "a delegated-admin record (access mode 5)",
    stub: "a stub user record (it cannot sign in)",
    system: "a system record (no Entra identity)",
    nonInteractive: "a non-interactive user",
    regular: "a regular user",
  };
  return words[kind];
}

/** Records the directory sync may update, disable or re-enable. */
export function isDirectoryManaged(kind: RecordKind): boolean {
  return kind === "regular" || kind === "nonInteractive";
}

/** At most this many non-interactive users per environment (application users do not count). */
export const MAX_NON_INTERACTIVE_USERS = 7;
