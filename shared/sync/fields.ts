import type { DirectoryUser, SystemUserRow } from "./model.js";

/**
 * D6: the profile fields the sync copies from Entra to a systemuser record, and the ones it never
 * writes. Only columns whose value differs are sent.
 *
 * - username (UPN) -> domainname; title, first and last name, phones and address fields as listed;
 * - full name is never updated by the sync;
 * - primary email is never updated (to avoid data loss): no column of the mapping writes it;
 * - internal email (internalemailaddress) follows Entra's mail (the UPN when there is none)
 *   until someone changes it in Dataverse; from then on it is never written again (the record is
 *   "locked").
 */
export const MAPPED_FIELDS = {
  domainname: (u) => u.upn,
  firstname: (u) => u.givenName,
  lastname: (u) => u.surname,
  title: (u) => u.jobTitle,
  mobilephone: (u) => u.mobilePhone,
  address1_telephone1: (u) => u.businessPhone,
  address1_line1: (u) => u.streetAddress,
  address1_city: (u) => u.city,
  address1_stateorprovince: (u) => u.state,
  address1_country: (u) => u.country,
} as const satisfies Record<string, (u: DirectoryUser) => string | null>;

export type MappedField = keyof typeof MAPPED_FIELDS | "internalemailaddress";

/** Columns D6 says the sync must never write. */
export const NEVER_SYNCED_FIELDS = ["fullname", "personalemailaddress"] as const;

/** The internal email the platform derives from Entra. */
export function internalEmailOf(user: Pick<DirectoryUser, "mail" | "upn">): string {
  return user.mail ?? user.upn;
}

export interface FieldDecision {
  /** Columns to write (only changed ones). */
  patch: Partial<Record<MappedField, string | null>>;
  /** The internal email was changed in Dataverse: lock it (never write it again). */
  lockInternalEmail: boolean;
}

const same = (a: string | null, b: string | null) => (a ?? "") === (b ?? "");
const sameEmail = (a: string | null, b: string | null) => (a ?? "").toLowerCase() === (b ?? "").toLowerCase();

export function profilePatch(row: SystemUserRow, user: DirectoryUser, options: { internalEmailLocked: boolean }): FieldDecision {
  const patch: FieldDecision["patch"] = {};
  for (const [column, from] of Object.entries(MAPPED_FIELDS) as [keyof typeof MAPPED_FIELDS, (u: DirectoryUser) => string | null | undefined][]) {
    const value = from(user);
    // Not known yet (a snapshot stored before the field was read, e.g. streetAddress): neither
    // compared nor written - the next read of the user brings it.
    if (value === undefined) continue;
    if (!same(row[column], value)) patch[column] = value;
  }
  let lockInternalEmail = false;
  const desired = internalEmailOf(user);
  const current = row.internalemailaddress;
  if (!options.internalEmailLocked && !sameEmail(current, desired)) {
    // A value the sync derived for this user before (the snapshot keeps each former internal email:
    // a mail, or the UPN of a user without mail, so a rename is no edit), or none, is the sync's own;
    // anything else an admin typed in Dataverse.
    const written = [user.upn, ...(user.mailHistory ?? [])];
    if (!current || written.some((w) => sameEmail(w, current))) patch.internalemailaddress = desired;
    else lockInternalEmail = true;
  }
  return { patch, lockInternalEmail };
}
