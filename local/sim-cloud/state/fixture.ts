import { readFileSync } from "node:fs";
import { z } from "zod";
import { GUID_RE } from "./ids.js";

/**
 * The tenant fixture: a plain JSON document describing one Microsoft 365 tenant (directory,
 * products, environments with their Dataverse users, sign-in log). Documented in docs/sim-cloud.md.
 */

const guid = z.string().regex(GUID_RE, "must be a GUID");
const dateTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), "must be an ISO date-time");

export const DirectoryRoleTemplateIds = {
  globalAdministrator: "62e90394-69f5-4237-9190-012177145e10",
  globalReader: "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
  licenseAdministrator: "4d6ac14f-3453-41d0-bef9-a3e0c569773a",
  userAdministrator: "fe930be7-5e62-47db-91af-98c3a49a38b1",
  powerPlatformAdministrator: "11648597-926c-4cf3-9c36-bcebb0ba8dcc",
  dynamics365Administrator: "44367163-eba1-44c3-98af-f5787879f96a",
} as const;

export const FixtureLicense = z.object({
  skuId: guid,
  disabledPlans: z.array(guid).default([]),
  /** When the license was assigned (assignedPlans[].assignedDateTime); default: the user's creation time. */
  assignedDateTime: dateTime.optional(),
});

export const FixtureUser = z.object({
  id: guid,
  userPrincipalName: z.string().min(3),
  displayName: z.string(),
  givenName: z.string().nullable().optional(),
  surname: z.string().nullable().optional(),
  mail: z.string().nullable().optional(),
  userType: z.enum(["Member", "Guest"]).default("Member"),
  accountEnabled: z.boolean().default(true),
  /** Two-letter country code; null or absent = no usage location (license assignment fails). */
  usageLocation: z.string().length(2).nullable().optional(),
  jobTitle: z.string().nullable().optional(),
  department: z.string().nullable().optional(),
  mobilePhone: z.string().nullable().optional(),
  businessPhones: z.array(z.string()).optional(),
  officeLocation: z.string().nullable().optional(),
  streetAddress: z.string().nullable().optional(),
  city: z.string().nullable().optional(),
  state: z.string().nullable().optional(),
  country: z.string().nullable().optional(),
  companyName: z.string().nullable().optional(),
  preferredLanguage: z.string().nullable().optional(),
  createdDateTime: dateTime.optional(),
  /** Set = soft-deleted (in the recycle bin, restorable). */
  deletedDateTime: dateTime.nullable().optional(),
  /** Directly assigned licenses. Group-based licenses come from the groups' assignedLicenses. */
  licenses: z.array(FixtureLicense).default([]),
});

export const FixtureGroup = z.object({
  id: guid,
  displayName: z.string(),
  description: z.string().nullable().optional(),
  mailNickname: z.string().optional(),
  securityEnabled: z.boolean().default(true),
  mailEnabled: z.boolean().default(false),
  groupTypes: z.array(z.string()).default([]),
  createdDateTime: dateTime.optional(),
  /** Direct members: user, group or service principal object ids (in this order). */
  members: z.array(guid).default([]),
  owners: z.array(guid).default([]),
  /** Group-based licensing: every direct member user receives these. */
  assignedLicenses: z.array(z.object({ skuId: guid, disabledPlans: z.array(guid).default([]) })).default([]),
});

export const FixtureServicePrincipal = z.object({
  /** Object id of the service principal. */
  id: guid,
  /** Application (client) id. */
  appId: guid,
  displayName: z.string(),
  /** Client secret the simulated token endpoint requires (development only); absent = any secret is accepted. */
  clientSecret: z.string().optional(),
  /** App roles granted (they become the token's `roles` claim), e.g. "User.Read.All". */
  roles: z.array(z.string()).default([]),
});

export const FixtureServicePlan = z.object({
  servicePlanId: guid,
  servicePlanName: z.string(),
  provisioningStatus: z.string().default("Success"),
  appliesTo: z.enum(["User", "Company"]).default("User"),
  /** The `service` of assignedPlans entries (e.g. "exchange", "PowerAppsService"). */
  service: z.string().optional(),
});

export const FixtureSku = z.object({
  skuId: guid,
  skuPartNumber: z.string(),
  displayName: z.string().optional(),
  appliesTo: z.enum(["User", "Company"]).default("User"),
  capabilityStatus: z.enum(["Enabled", "Warning", "Suspended", "Deleted", "LockedOut"]).default("Enabled"),
  prepaidUnits: z.object({
    enabled: z.number().int().nonnegative(),
    suspended: z.number().int().nonnegative().default(0),
    warning: z.number().int().nonnegative().default(0),
    lockedOut: z.number().int().nonnegative().default(0),
  }),
  servicePlans: z.array(FixtureServicePlan).default([]),
  /** The companySubscription behind the SKU (GET /directory/subscriptions). */
  subscription: z.object({
    id: guid.optional(),
    commerceSubscriptionId: guid.optional(),
    isTrial: z.boolean().default(false),
    status: z.enum(["Enabled", "Warning", "Suspended", "Deleted", "LockedOut"]).default("Enabled"),
    createdDateTime: dateTime.optional(),
    nextLifecycleDateTime: dateTime.nullable().optional(),
    /** "User" for a self-service purchase (its licenses cannot be assigned by an admin). */
    ownerType: z.enum(["Company", "User"]).nullable().default(null),
    ownerId: guid.nullable().default(null),
    ownerTenantId: guid.nullable().optional(),
  }).default({ isTrial: false, status: "Enabled", ownerType: null, ownerId: null }),
});

export const FixtureSystemUser = z.object({
  systemuserid: guid,
  azureactivedirectoryobjectid: guid.nullable().default(null),
  domainname: z.string().default(""),
  internalemailaddress: z.string().nullable().default(null),
  windowsliveid: z.string().nullable().default(null),
  fullname: z.string().nullable().optional(),
  firstname: z.string().nullable().default(null),
  lastname: z.string().nullable().default(null),
  title: z.string().nullable().default(null),
  mobilephone: z.string().nullable().default(null),
  address1_telephone1: z.string().nullable().default(null),
  address1_line1: z.string().nullable().default(null),
  address1_city: z.string().nullable().default(null),
  address1_stateorprovince: z.string().nullable().default(null),
  address1_country: z.string().nullable().default(null),
  isdisabled: z.boolean().default(false),
  islicensed: z.boolean().default(true),
  applicationid: guid.nullable().default(null),
  /** 0 Read-Write, 1 Administrative, 2 Read, 3 Support User, 4 Non-interactive, 5 Delegated Admin. */
  accessmode: z.number().int().min(0).max(5).default(0),
  /** 0 exists in Entra, 1 soft-deleted, 2 not found. */
  azurestate: z.number().int().min(0).max(2).default(0),
  createdon: dateTime.optional(),
  /** Security role ids (from the environment's roles). */
  roles: z.array(guid).default([]),
});

export const FixtureRole = z.object({
  roleid: guid,
  name: z.string(),
  ismanaged: z.boolean().default(true),
});

export const EnvironmentSku = z.enum(["Production", "Sandbox", "Trial", "Developer", "Teams", "Default"]);

export const FixtureEnvironment = z.object({
  id: guid,
  displayName: z.string(),
  environmentSku: EnvironmentSku,
  location: z.string().default("europe"),
  azureRegion: z.string().default("westeurope"),
  createdTime: dateTime.optional(),
  /** Directory object id of the creator (a user; required for Developer environments). */
  createdBy: guid.nullable().optional(),
  /** Security group restricting who may be in the environment. */
  securityGroupId: guid.nullable().optional(),
  /** Trial environments expire. */
  expirationTime: dateTime.nullable().optional(),
  /** null = no Dataverse database. */
  dataverse: z.object({
    domainName: z.string(),
    organizationId: guid,
    businessUnitId: guid,
    version: z.string().default("9.2.25031.00185"),
    roles: z.array(FixtureRole).default([]),
    systemusers: z.array(FixtureSystemUser).default([]),
  }).nullable(),
});

export const FixtureSignIn = z.object({
  id: z.string(),
  createdDateTime: dateTime,
  userId: guid,
  userPrincipalName: z.string(),
  userDisplayName: z.string().optional(),
  appId: guid,
  appDisplayName: z.string(),
  resourceDisplayName: z.string().optional(),
  ipAddress: z.string().optional(),
  clientAppUsed: z.string().optional(),
  isInteractive: z.boolean().default(true),
  status: z.object({
    errorCode: z.number().int().default(0),
    failureReason: z.string().nullable().optional(),
    additionalDetails: z.string().nullable().optional(),
  }).default({ errorCode: 0 }),
});

export const TenantFixtureSchema = z.object({
  tenant: z.object({
    id: guid,
    displayName: z.string(),
    /** Verified default domain, e.g. contoso.onmicrosoft.com. */
    defaultDomain: z.string(),
    countryLetterCode: z.string().length(2).default("NL"),
  }),
  users: z.array(FixtureUser).default([]),
  groups: z.array(FixtureGroup).default([]),
  servicePrincipals: z.array(FixtureServicePrincipal).default([]),
  skus: z.array(FixtureSku).default([]),
  /**
   * Service-plan rules Graph enforces on assignLicense and group-based licensing. Graph
   * publishes no such table; the fixture declares the pairs and prerequisites it wants enforced.
   */
  servicePlanRules: z.object({
    mutuallyExclusive: z.array(z.tuple([guid, guid])).default([]),
    dependencies: z.array(z.object({ servicePlanId: guid, requiresAnyOf: z.array(guid).min(1) })).default([]),
  }).default({ mutuallyExclusive: [], dependencies: [] }),
  /** Directory role assignments (role template id -> principal object ids). */
  directoryRoles: z.array(z.object({ roleTemplateId: guid, displayName: z.string(), members: z.array(guid).default([]) })).default([]),
  environments: z.array(FixtureEnvironment).default([]),
  signIns: z.array(FixtureSignIn).default([]),
});

export type TenantFixture = z.input<typeof TenantFixtureSchema>;
export type ParsedFixture = z.output<typeof TenantFixtureSchema>;
export type FixtureUserInput = z.input<typeof FixtureUser>;
export type FixtureGroupInput = z.input<typeof FixtureGroup>;
export type FixtureSkuInput = z.input<typeof FixtureSku>;
export type FixtureEnvironmentInput = z.input<typeof FixtureEnvironment>;
export type FixtureSystemUserInput = z.input<typeof FixtureSystemUser>;
export type FixtureSignInInput = z.input<typeof FixtureSignIn>;
export type FixtureServicePrincipalInput = z.input<typeof FixtureServicePrincipal>;
export type ParsedUser = z.output<typeof FixtureUser>;
export type ParsedGroup = z.output<typeof FixtureGroup>;
export type ParsedSku = z.output<typeof FixtureSku>;
export type ParsedEnvironment = z.output<typeof FixtureEnvironment>;
export type ParsedSystemUser = z.output<typeof FixtureSystemUser>;
export type ParsedSignIn = z.output<typeof FixtureSignIn>;
export type ParsedServicePrincipal = z.output<typeof FixtureServicePrincipal>;

export class FixtureError extends Error {}

/** Validates a fixture (throws FixtureError listing the problems). */
export function parseFixture(input: unknown): ParsedFixture {
  const result = TenantFixtureSchema.safeParse(input);
  if (!result.success) {
    const issues = result.error.issues.slice(0, 20).map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new FixtureError(`Invalid tenant fixture:\n${issues.join("\n")}`);
  }
  return result.data;
}

export function loadFixtureFile(file: string): ParsedFixture {
  return parseFixture(JSON.parse(readFileSync(file, "utf8")));
}

const trusted = new WeakSet<object>();

/**
 * Marks a fixture built in code with every default already filled in (the large benchmark
 * tenant), so loading skips validation of 100,000 users.
 */
export function trustFixture(fixture: ParsedFixture): ParsedFixture {
  trusted.add(fixture);
  return fixture;
}

/** A validated fixture: trusted ones as they are, anything else through the schema. */
export function prepareFixture(fixture: TenantFixture | ParsedFixture): ParsedFixture {
  return trusted.has(fixture) ? (fixture as ParsedFixture) : parseFixture(fixture);
}
