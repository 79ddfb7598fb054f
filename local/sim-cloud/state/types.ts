/** In-memory records of the simulated directory (Microsoft Entra ID as Graph shows it). */

export type LicenseAssignmentStateValue = "Active" | "ActiveWithError" | "Disabled" | "Error";
export type LicenseAssignmentError =
  | "None"
  | "CountViolation"
  | "MutuallyExclusiveViolation"
  | "DependencyViolation"
  | "ProhibitedInUsageLocationViolation"
  | "UniquenessViolation"
  | "Other";

export interface LicenseState {
  skuId: string;
  disabledPlans: string[];
  /** null for a direct assignment, else the group's id. */
  assignedByGroup: string | null;
  state: LicenseAssignmentStateValue;
  error: LicenseAssignmentError;
  lastUpdatedDateTime: string;
  /** When the license was first assigned (becomes assignedPlans[].assignedDateTime). */
  assignedDateTime: string;
}

export interface UserRec {
  id: string;
  userPrincipalName: string;
  displayName: string;
  givenName: string | null;
  surname: string | null;
  mail: string | null;
  userType: "Member" | "Guest";
  accountEnabled: boolean;
  usageLocation: string | null;
  jobTitle: string | null;
  department: string | null;
  mobilePhone: string | null;
  businessPhones: string[];
  officeLocation: string | null;
  streetAddress: string | null;
  city: string | null;
  state: string | null;
  country: string | null;
  companyName: string | null;
  preferredLanguage: string | null;
  createdDateTime: string;
  /** Set while soft-deleted. */
  deletedDateTime: string | null;
  licenses: LicenseState[];
  /**
   * Replication lag (settings.graph.licenseReadLagMs): the licenses reads show until `until` (ms
   * since the epoch) after an assignLicense - Graph's reads may lag its writes.
   */
  licensesReadLag?: { until: number; licenses: LicenseState[] };
  /** Creation sequence (the order of GET /users). */
  seq: number;
  /** Change version (delta queries). */
  version: number;
}

export interface GroupLicense {
  skuId: string;
  disabledPlans: string[];
}

export interface GroupRec {
  id: string;
  displayName: string;
  description: string | null;
  mailNickname: string;
  securityEnabled: boolean;
  mailEnabled: boolean;
  groupTypes: string[];
  createdDateTime: string;
  deletedDateTime: string | null;
  /** Direct members in the order they were added. */
  memberOrder: string[];
  members: Set<string>;
  owners: string[];
  assignedLicenses: GroupLicense[];
  seq: number;
  version: number;
}

export interface ServicePrincipalRec {
  id: string;
  appId: string;
  displayName: string;
  clientSecret: string | null;
  roles: string[];
  seq: number;
}

export interface ServicePlanRec {
  servicePlanId: string;
  servicePlanName: string;
  provisioningStatus: string;
  appliesTo: "User" | "Company";
  service: string;
}

export type CapabilityStatus = "Enabled" | "Warning" | "Suspended" | "Deleted" | "LockedOut";

export interface SkuRec {
  id: string;
  skuId: string;
  skuPartNumber: string;
  displayName: string | null;
  appliesTo: "User" | "Company";
  capabilityStatus: CapabilityStatus;
  prepaidUnits: { enabled: number; suspended: number; warning: number; lockedOut: number };
  servicePlans: ServicePlanRec[];
  consumedUnits: number;
  subscription: {
    id: string;
    commerceSubscriptionId: string;
    isTrial: boolean;
    status: CapabilityStatus;
    createdDateTime: string;
    nextLifecycleDateTime: string | null;
    ownerType: "Company" | "User" | null;
    ownerId: string | null;
    ownerTenantId: string | null;
  };
}

export interface DirectoryRoleRec {
  /** Object id of the activated directoryRole. */
  id: string;
  roleTemplateId: string;
  displayName: string;
  members: Set<string>;
}

export interface SignInRec {
  id: string;
  createdDateTime: string;
  userId: string;
  userPrincipalName: string;
  userDisplayName: string;
  appId: string;
  appDisplayName: string;
  resourceDisplayName: string;
  ipAddress: string;
  clientAppUsed: string;
  isInteractive: boolean;
  status: { errorCode: number; failureReason: string | null; additionalDetails: string | null };
}
