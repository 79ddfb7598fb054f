import { z } from "zod";

/**
 * The shapes the sync works with. Directory data is kept compact (one entry per user, only what
 * eligibility (D2) and the field mapping (D6) need), because a tenant's snapshot is read whole
 * on a full reconcile.
 */

export const ENVIRONMENT_TYPES = ["Production", "Sandbox", "Trial", "Developer", "Teams", "Default"] as const;
export const environmentTypeSchema = z.enum(ENVIRONMENT_TYPES);
export type EnvironmentType = z.infer<typeof environmentTypeSchema>;

export const assignedLicenseSchema = z.object({ skuId: z.string(), disabledPlans: z.array(z.string()) });
export type AssignedLicense = z.infer<typeof assignedLicenseSchema>;

/** One Entra user as the sync knows it (merged from users/delta and groups/delta). */
export const directoryUserSchema = z.object({
  id: z.string(),
  upn: z.string(),
  accountEnabled: z.boolean(),
  userType: z.string(),
  /** Soft-deleted ("changed" in delta: restorable) or hard-deleted. */
  removed: z.enum(["soft", "hard"]).optional(),
  displayName: z.string().nullable(),
  givenName: z.string().nullable(),
  surname: z.string().nullable(),
  mail: z.string().nullable(),
  jobTitle: z.string().nullable(),
  mobilePhone: z.string().nullable(),
  businessPhone: z.string().nullable(),
  streetAddress: z.string().nullable(),
  city: z.string().nullable(),
  state: z.string().nullable(),
  country: z.string().nullable(),
  licenses: z.array(assignedLicenseSchema),
  /** Tracked security groups (of environments) the user is a direct member of. */
  groups: z.array(z.string()),
  /** Earlier values of `mail`, newest last: lets D6 tell a value the sync wrote from one an admin typed. */
  mailHistory: z.array(z.string()).optional(),
});
export type DirectoryUser = z.infer<typeof directoryUserSchema>;

/** How a product's service plan counts for Dataverse access (see licensing.ts). */
export const planClassSchema = z.enum(["grantsAccess", "freeDataverse", "none"]);
export type PlanClass = z.infer<typeof planClassSchema>;

export const skuFactsSchema = z.object({
  skuId: z.string(),
  partNumber: z.string(),
  /** Enabled or Warning (grace period): its licenses count. */
  usable: z.boolean(),
  plans: z.record(z.string(), planClassSchema),
});
export type SkuFacts = z.infer<typeof skuFactsSchema>;

/** What the tenant as a whole contributes to eligibility, read once per cycle. */
export const tenantFactsSchema = z.object({
  skus: z.record(z.string(), skuFactsSchema),
  /** A tenant-level Marketing license (exception for on-demand adds). */
  marketing: z.boolean(),
  admins: z.object({
    global: z.array(z.string()),
    powerPlatform: z.array(z.string()),
    dynamics: z.array(z.string()),
  }),
  /** Owners of each tracked security group (they count as members for on-demand adds). */
  owners: z.record(z.string(), z.array(z.string())),
});
export type TenantFacts = z.infer<typeof tenantFactsSchema>;

/** An environment as the Power Platform admin API reports it (D15: never typed in by an admin). */
export const platformEnvironmentSchema = z.object({
  id: z.string(),
  displayName: z.string(),
  /** The platform's environmentSku; unknown SKUs are kept as "Other" (no users are synced there). */
  type: z.union([environmentTypeSchema, z.literal("Other")]),
  dataverse: z
    .object({
      instanceUrl: z.string(),
      domainName: z.string().nullable(),
      securityGroupId: z.string().nullable(),
    })
    .nullable(),
  createdBy: z.string().nullable(),
  /** App passes allocated to the environment (exception for on-demand adds). */
  appPassCapacity: z.boolean(),
  region: z.string().nullable(),
  expirationTime: z.string().nullable(),
});
export type PlatformEnvironment = z.infer<typeof platformEnvironmentSchema>;

/** systemuser access modes (Dataverse `accessmode`). */
export const ACCESS_MODES = {
  readWrite: 0,
  administrative: 1,
  read: 2,
  supportUser: 3,
  nonInteractive: 4,
  delegatedAdmin: 5,
} as const;
export const accessModeSchema = z.enum(["readWrite", "administrative", "read", "supportUser", "nonInteractive", "delegatedAdmin"]);
export type AccessMode = z.infer<typeof accessModeSchema>;

export function accessModeName(value: number): AccessMode {
  const found = (Object.entries(ACCESS_MODES) as [AccessMode, number][]).find(([, v]) => v === value);
  return found ? found[0] : "readWrite";
}

/** The systemuser columns the sync reads (the rest of the row is none of its business). */
export const SYSTEMUSER_COLUMNS = [
  "systemuserid", "azureactivedirectoryobjectid", "domainname", "internalemailaddress", "fullname", "firstname", "lastname", "title",
  "mobilephone", "address1_telephone1", "address1_line1", "address1_city", "address1_stateorprovince", "address1_country", "isdisabled", "islicensed",
  "applicationid", "accessmode", "azurestate", "createdon",
] as const;

const nullableString = z.string().nullish().transform((v) => v ?? null);

export const systemUserRowSchema = z.object({
  systemuserid: z.string(),
  azureactivedirectoryobjectid: nullableString,
  domainname: nullableString,
  internalemailaddress: nullableString,
  fullname: nullableString,
  firstname: nullableString,
  lastname: nullableString,
  title: nullableString,
  mobilephone: nullableString,
  address1_telephone1: nullableString,
  address1_line1: nullableString,
  address1_city: nullableString,
  address1_stateorprovince: nullableString,
  address1_country: nullableString,
  isdisabled: z.boolean().nullish().transform((v) => v ?? false),
  islicensed: z.boolean().nullish().transform((v) => v ?? false),
  applicationid: nullableString,
  accessmode: z.number().int().nullish().transform((v) => v ?? 0),
  azurestate: z.number().int().nullish().transform((v) => v ?? 0),
  /** When the record was created (D4: a record newer than the snapshot's users read may be of a user the snapshot does not know yet). */
  createdon: z.string().nullish(),
});
export type SystemUserRow = z.infer<typeof systemUserRowSchema>;

/** D7: what kind of systemuser record a row is. */
export const recordKindSchema = z.enum(["regular", "nonInteractive", "application", "supportUser", "delegatedAdmin", "stub", "system"]);
export type RecordKind = z.infer<typeof recordKindSchema>;
