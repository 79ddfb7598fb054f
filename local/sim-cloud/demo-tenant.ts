import type {
  FixtureEnvironmentInput, FixtureGroupInput, FixtureServicePrincipalInput, FixtureSignInInput, FixtureSkuInput,
  FixtureSystemUserInput, FixtureUserInput, ParsedFixture, ParsedSystemUser, ParsedUser, TenantFixture,
} from "./state/fixture.js";
import { DirectoryRoleTemplateIds, parseFixture, trustFixture } from "./state/fixture.js";
import { guidFor } from "./state/ids.js";

/**
 * The demo tenant ("Contoso (simulated)"): built deterministically, so its ids are stable
 * across runs. See docs/sim-cloud.md for what it contains and which ids to use in tests.
 */

export const DEMO_TENANT_ID = "5f1c6e2a-7d3b-4c8e-9a41-2b6d0e8f3c17";
export const DEMO_TENANT_NAME = "Contoso (simulated)";
export const DEMO_DOMAIN = "contoso-sim.onmicrosoft.com";

/**
 * The app registration the product runs as locally (MS_API_CLIENT_ID of local/stack.ts). It has
 * no client secret registered, so the simulated authority accepts any secret for it; it has an
 * application user in every Dataverse environment of the demo tenant.
 */
export const DEMO_APP = {
  appId: "8f6e3c1a-2b4d-4e5f-9a0b-1c2d3e4f5a6b",
  servicePrincipalId: "0c0ffee0-5a1d-4e6c-9b1a-7e3a2f4d8c02",
  displayName: "License Control Plane",
  roles: ["User.Read.All", "Group.Read.All", "Directory.Read.All", "LicenseAssignment.ReadWrite.All", "AuditLog.Read.All", "RoleManagement.Read.Directory"],
};

/** A second app with a registered secret (its wrong-secret answer is realistic). Development-only value. */
export const DEMO_INTEGRATION_APP = {
  appId: "0c0ffee0-5a1d-4e6c-9b1a-7e3a2f4d8c11",
  servicePrincipalId: "0c0ffee0-5a1d-4e6c-9b1a-7e3a2f4d8c12",
  clientSecret: "sim-integration-secret",
};

/** Real Microsoft SKU and service-plan ids (public), so part numbers and ids look like production. */
export const DEMO_SKUS = {
  office365E3: "6fd2c87f-b296-42f0-b197-1e91e994b900",
  exchangePlan1: "4b9405b0-7788-4568-add1-99614e613b69",
  powerAppsPerUser: "b30411f5-fea1-4a59-9ad9-3db7c7ead579",
  powerAutomatePerUser: "4a51bf65-409c-4a91-b845-1121b571cc9d",
  powerAutomatePremium: "eda1941c-3c4f-4995-b5eb-e85a42175ab9",
  powerAppsTrial: "dcb1a3ae-b33f-4487-846a-a640262fadf4",
  powerAutomateFree: "f30db892-07e9-47e9-837c-80727f46fd3d",
  powerBiProSelfService: "f8a1db68-be16-40ed-86d5-cb42ce701560",
  teamsPhone: "e43b5b99-8dfb-405f-9987-dc307f34bcbd",
  powerBiPremiumPerUser: "c1d032e0-5619-4761-9b5c-75b6831e1711",
} as const;

export const DEMO_PLANS = {
  exchangeEnterprise: "efb87545-963c-4e0d-99df-69c6916d9eb0",
  exchangeStandard: "9aaf7827-d63c-4b61-89c3-182f06f82e5c",
  sharePointEnterprise: "5dbe027f-2339-4123-9542-606e4d348a72",
  teamsSkype: "0feaeb32-d00e-4d66-bd5a-43b5b83db82c",
  teams: "57ff2da0-773e-42df-b2af-ffb7a2317929",
  flowO365: "76846ad7-7776-4c40-a281-a386362dd1b9",
  powerAppsO365: "c68f8d98-5534-41c8-bf36-22fa496fa792",
  powerAppsPerUser: "ea2cf03b-ac60-46ae-9c1d-eeaeb63cec86",
  dataverseP2: "6ea4c1ef-c259-46df-bce2-943342cd3cb2",
  flowForPowerApps: "dc789ed8-0170-4b65-a415-eb77d5bb350a",
  flowPerUser: "c5002c70-f725-4367-b409-f0eff4fee6c0",
  attendedRpa: "375cd0ad-c407-49fd-866a-0bff4f8a9a4d",
  dataverseRpa: "3da2fd4c-1bee-4b61-a17f-94c31e5cab93",
  dataverseViral: "17ab22cd-a0b3-4536-910a-cb6eb12696c0",
  flowViral: "50e68c76-46c6-4674-81f9-75456511b170",
  powerAppsViral: "d5368ca3-357e-4acb-9c21-8495fb025d1f",
  powerBi: "70d33638-9c74-4d01-bfd3-562de28bd4ba",
  teamsPhone: "4828c8ec-dc2e-4779-b502-87ac9ce28ab7",
  powerBiPremiumPerUser: "0bf3c642-7bb5-4ccc-884e-59d09df0266c",
} as const;

const user = (n: number) => guidFor(`demo-user:${DEMO_TENANT_ID}`, n);

/**
 * Id of the n-th demo user (1..320). 1-8 are the named admins and special users, 9-300 members
 * (every 25th without usageLocation, every 30th disabled, 296-300 soft-deleted), 301-320 guests.
 */
export function demoUserId(n: number): string {
  return user(n);
}
const group = (n: number) => guidFor(`demo-group:${DEMO_TENANT_ID}`, n);

/** Ids worth knowing in the demo tenant. */
export const DEMO_IDS = {
  users: {
    globalAdmin: user(1),
    globalReader: user(2),
    licenseAdmin: user(3),
    userAdmin: user(4),
    powerPlatformAdmin: user(5),
    dynamicsAdmin: user(6),
    developerCreator: user(7),
    selfServicePurchaser: user(8),
    /**
     * An ordinary licensed member (Office 365 E3). E3's Power Apps and Dataverse plans count for
     * on-demand adds only (D2): the periodic sync adds holders of a Power Platform license.
     */
    member: user(20),
    /** A member without usageLocation (license assignment fails). */
    noUsageLocation: user(25),
    /** A disabled account. */
    disabled: user(30),
    /** A soft-deleted user (restorable). */
    softDeleted: user(296),
    guest: user(301),
  },
  groups: {
    allStaff: group(1),
    sales: group(2),
    salesEmea: group(3),
    sandboxTesters: group(4),
    powerAppsLicensing: group(5),
    automationCoE: group(6),
    exchangePlan1Licensing: group(7),
    teamsEnvironment: group(8),
  },
  servicePrincipals: {
    controlPlane: DEMO_APP.servicePrincipalId,
    integration: DEMO_INTEGRATION_APP.servicePrincipalId,
    hrConnector: "0c0ffee0-5a1d-4e6c-9b1a-7e3a2f4d8c22",
  },
  integrationAppId: DEMO_INTEGRATION_APP.appId,
  environments: {
    default: "a0000000-0000-4000-8000-00000000d001",
    production: "a0000000-0000-4000-8000-00000000d002",
    sandbox: "a0000000-0000-4000-8000-00000000d003",
    trial: "a0000000-0000-4000-8000-00000000d004",
    developer: "a0000000-0000-4000-8000-00000000d005",
    teams: "a0000000-0000-4000-8000-00000000d006",
    noDataverse: "a0000000-0000-4000-8000-00000000d007",
  },
} as const;

/** Well-known first-party app ids used in the sign-in log. */
export const DEMO_SIGNIN_APPS = {
  powerApps: { appId: "a8f7a65c-f5ba-4859-b2d6-df772c264e9d", appDisplayName: "Power Apps" },
  powerAutomate: { appId: "6204c1d1-4712-4c46-a7d9-3ed63d992682", appDisplayName: "Microsoft Flow Portal" },
  dynamics: { appId: "00000007-0000-0000-c000-000000000000", appDisplayName: "Dataverse" },
} as const;

const FIRST = ["Adele", "Alex", "Bianca", "Bram", "Chen", "Daan", "Dana", "Emma", "Finn", "Grace", "Hugo", "Isha", "Jan", "Julia", "Kofi", "Lara", "Liam", "Maya", "Noah", "Olga", "Pieter", "Quinn", "Rosa", "Sam", "Tess", "Umar", "Vera", "Wim", "Xin", "Yara", "Zoe"];
const LAST = ["Alvarez", "Bakker", "Costa", "de Vries", "Evans", "Fischer", "Garcia", "Hoekstra", "Ito", "Jansen", "Kowalski", "Lee", "Meijer", "Nowak", "Okafor", "Peters", "Quist", "Rossi", "Smit", "Tanaka", "Uysal", "Visser", "Wong", "Xu", "Yilmaz", "Zhang"];
const DEPARTMENTS = ["Sales", "Finance", "Operations", "IT", "HR", "Marketing", "Support"];
const CITIES: Array<[string, string, string]> = [["Amsterdam", "Noord-Holland", "Netherlands"], ["Utrecht", "Utrecht", "Netherlands"], ["Antwerp", "Antwerpen", "Belgium"], ["Berlin", "Berlin", "Germany"]];
const CREATED_BASE = Date.UTC(2024, 0, 15, 9, 0, 0);

function nameOf(n: number): { givenName: string; surname: string } {
  return { givenName: FIRST[n % FIRST.length] ?? "Alex", surname: LAST[Math.floor(n / FIRST.length) % LAST.length] ?? "Smit" };
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, "");
}

function memberUser(n: number, overrides: Partial<FixtureUserInput> = {}): FixtureUserInput {
  const { givenName, surname } = nameOf(n);
  const upn = `${slug(givenName)}.${slug(surname)}${n}@${DEMO_DOMAIN}`;
  const [city, state, country] = CITIES[n % CITIES.length] ?? CITIES[0] ?? ["Amsterdam", "Noord-Holland", "Netherlands"];
  return {
    id: user(n),
    userPrincipalName: upn,
    displayName: `${givenName} ${surname}`,
    givenName,
    surname,
    mail: upn,
    userType: "Member",
    accountEnabled: true,
    usageLocation: country === "Netherlands" ? "NL" : country === "Belgium" ? "BE" : "DE",
    jobTitle: n % 11 === 0 ? "Manager" : "Specialist",
    department: DEPARTMENTS[n % DEPARTMENTS.length] ?? "Sales",
    mobilePhone: `+31 6 ${String(10000000 + n * 7919).slice(0, 8)}`,
    businessPhones: [`+31 20 ${String(5550000 + n)}`],
    officeLocation: city,
    streetAddress: `${String(n % 200 + 1)} Main Street`,
    city,
    state,
    country,
    companyName: "Contoso",
    preferredLanguage: "nl-NL",
    createdDateTime: new Date(CREATED_BASE + n * 3_600_000).toISOString(),
    licenses: [],
    ...overrides,
  };
}

const E3 = { skuId: DEMO_SKUS.office365E3, assignedDateTime: "2024-02-01T10:00:00Z" };

function demoUsers(): FixtureUserInput[] {
  const users: FixtureUserInput[] = [];
  const named: Record<number, Partial<FixtureUserInput>> = {
    1: { displayName: "Adele Vance (Global Admin)", userPrincipalName: `adele.vance@${DEMO_DOMAIN}`, mail: `adele.vance@${DEMO_DOMAIN}`, givenName: "Adele", surname: "Vance", jobTitle: "IT Director", licenses: [E3, { skuId: DEMO_SKUS.powerAppsPerUser, assignedDateTime: "2024-03-01T10:00:00Z" }] },
    2: { displayName: "Grady Archie (Global Reader)", userPrincipalName: `grady.archie@${DEMO_DOMAIN}`, givenName: "Grady", surname: "Archie", licenses: [E3] },
    3: { displayName: "Lidia Holloway (License Admin)", userPrincipalName: `lidia.holloway@${DEMO_DOMAIN}`, givenName: "Lidia", surname: "Holloway", licenses: [E3] },
    4: { displayName: "Lee Gu (User Admin)", userPrincipalName: `lee.gu@${DEMO_DOMAIN}`, givenName: "Lee", surname: "Gu", licenses: [E3] },
    5: { displayName: "Miriam Graham (Power Platform Admin)", userPrincipalName: `miriam.graham@${DEMO_DOMAIN}`, givenName: "Miriam", surname: "Graham", licenses: [] },
    6: { displayName: "Nestor Wilke (Dynamics 365 Admin)", userPrincipalName: `nestor.wilke@${DEMO_DOMAIN}`, givenName: "Nestor", surname: "Wilke", licenses: [] },
    7: { displayName: "Dana Developer", userPrincipalName: `dana.developer@${DEMO_DOMAIN}`, givenName: "Dana", surname: "Developer", licenses: [E3] },
    8: { displayName: "Sam Selfservice", userPrincipalName: `sam.selfservice@${DEMO_DOMAIN}`, givenName: "Sam", surname: "Selfservice", licenses: [E3, { skuId: DEMO_SKUS.powerBiProSelfService, assignedDateTime: "2024-05-05T10:00:00Z" }] },
  };
  for (let n = 1; n <= 300; n++) {
    const overrides: Partial<FixtureUserInput> = { ...(named[n] ?? {}) };
    if (!named[n]) {
      // Most members hold Office 365 E3; some also a Power Apps or Power Automate plan.
      const licenses: FixtureUserInput["licenses"] = [];
      if (n % 10 !== 9) licenses.push(E3);
      if (n % 13 === 0) licenses.push({ skuId: DEMO_SKUS.powerAppsPerUser, assignedDateTime: "2024-04-01T10:00:00Z" });
      if (n % 29 === 0) licenses.push({ skuId: DEMO_SKUS.powerAutomatePerUser, assignedDateTime: "2024-04-02T10:00:00Z" });
      if (n % 17 === 0) licenses.push({ skuId: DEMO_SKUS.powerAppsTrial, assignedDateTime: "2025-12-01T10:00:00Z" });
      if (n % 19 === 0) licenses.push({ skuId: DEMO_SKUS.powerAutomateFree, assignedDateTime: "2024-06-01T10:00:00Z" });
      if (n === 40) licenses.push({ skuId: DEMO_SKUS.teamsPhone, assignedDateTime: "2024-06-01T10:00:00Z" });
      if (n === 41) licenses.push({ skuId: DEMO_SKUS.powerBiProSelfService, assignedDateTime: "2024-05-06T10:00:00Z" });
      overrides.licenses = licenses;
    }
    // Every 25th user has no usage location (and then no direct license: Graph would refuse it).
    if (n % 25 === 0) {
      overrides.usageLocation = null;
      overrides.licenses = [];
    }
    if (n % 30 === 0) overrides.accountEnabled = false;
    if (n >= 296) overrides.deletedDateTime = "2026-01-10T12:00:00Z";
    users.push(memberUser(n, overrides));
  }
  for (let g = 0; g < 20; g++) {
    const n = 301 + g;
    const { givenName, surname } = nameOf(n);
    const external = `${slug(givenName)}.${slug(surname)}@fabrikam.example`;
    users.push(memberUser(n, {
      userPrincipalName: `${external.replace("@", "_")}#EXT#@${DEMO_DOMAIN}`,
      mail: external,
      userType: "Guest",
      displayName: `${givenName} ${surname} (Fabrikam)`,
      companyName: "Fabrikam",
      usageLocation: g % 2 === 0 ? "NL" : null,
      licenses: g < 3 ? [{ skuId: DEMO_SKUS.powerAppsPerUser, assignedDateTime: "2024-07-01T10:00:00Z" }] : [],
    }));
  }
  return users;
}

function servicePrincipals(): FixtureServicePrincipalInput[] {
  return [
    { id: DEMO_APP.servicePrincipalId, appId: DEMO_APP.appId, displayName: DEMO_APP.displayName, roles: DEMO_APP.roles },
    { id: DEMO_INTEGRATION_APP.servicePrincipalId, appId: DEMO_INTEGRATION_APP.appId, displayName: "Contoso ERP Integration", clientSecret: DEMO_INTEGRATION_APP.clientSecret, roles: ["User.Read.All"] },
    { id: DEMO_IDS.servicePrincipals.hrConnector, appId: "0c0ffee0-5a1d-4e6c-9b1a-7e3a2f4d8c21", displayName: "HR Connector", roles: ["User.Read.All"] },
  ];
}

function range(from: number, to: number, step = 1): string[] {
  const out: string[] = [];
  for (let n = from; n <= to; n += step) out.push(user(n));
  return out;
}

function groups(): FixtureGroupInput[] {
  const ids = DEMO_IDS.groups;
  return [
    { id: ids.allStaff, displayName: "All Staff", description: "Every member of staff", members: range(1, 295) },
    {
      id: ids.sales, displayName: "Sales", description: "Security group of the Contoso Sales environment",
      members: [...range(1, 7), ...range(20, 80), ids.salesEmea], owners: [user(81)],
    },
    { id: ids.salesEmea, displayName: "Sales EMEA", description: "Nested in Sales (nested members do not count for Dataverse)", members: range(81, 100) },
    { id: ids.sandboxTesters, displayName: "Sandbox Testers", members: [...range(20, 35), user(7)] },
    {
      id: ids.powerAppsLicensing, displayName: "Power Apps Premium (group licensing)",
      members: range(101, 130), assignedLicenses: [{ skuId: DEMO_SKUS.powerAppsPerUser, disabledPlans: [] }],
    },
    {
      id: ids.automationCoE, displayName: "Automation CoE (group licensing)",
      members: range(131, 138), assignedLicenses: [{ skuId: DEMO_SKUS.powerAutomatePremium, disabledPlans: [] }],
    },
    {
      id: ids.exchangePlan1Licensing, displayName: "Exchange Plan 1 (group licensing)",
      members: range(139, 142), assignedLicenses: [{ skuId: DEMO_SKUS.exchangePlan1, disabledPlans: [] }],
    },
    { id: ids.teamsEnvironment, displayName: "Sales Team", groupTypes: ["Unified"], mailEnabled: true, securityEnabled: false, members: range(20, 40) },
  ];
}

function plan(servicePlanId: string, servicePlanName: string, service: string) {
  return { servicePlanId, servicePlanName, service };
}

function skus(): FixtureSkuInput[] {
  const P = DEMO_PLANS;
  const sub = (id: number, extra: Partial<NonNullable<FixtureSkuInput["subscription"]>> = {}) => ({
    id: guidFor(`demo-subscription:${DEMO_TENANT_ID}`, id),
    createdDateTime: "2024-01-01T00:00:00Z",
    nextLifecycleDateTime: "2027-06-30T00:00:00Z",
    isTrial: false,
    status: "Enabled" as const,
    ownerType: null,
    ownerId: null,
    ...extra,
  });
  return [
    {
      skuId: DEMO_SKUS.office365E3, skuPartNumber: "ENTERPRISEPACK", displayName: "Office 365 E3", prepaidUnits: { enabled: 300, warning: 0 },
      servicePlans: [
        plan(P.exchangeEnterprise, "EXCHANGE_S_ENTERPRISE", "exchange"), plan(P.sharePointEnterprise, "SHAREPOINTENTERPRISE", "SharePoint"),
        plan(P.teamsSkype, "MCOSTANDARD", "MicrosoftCommunicationsOnline"), plan(P.teams, "TEAMS1", "TeamspaceAPI"),
        plan(P.flowO365, "FLOW_O365_P2", "ProcessSimple"), plan(P.powerAppsO365, "POWERAPPS_O365_P2", "PowerAppsService"),
      ],
      subscription: sub(1),
    },
    {
      skuId: DEMO_SKUS.exchangePlan1, skuPartNumber: "EXCHANGESTANDARD", displayName: "Exchange Online (Plan 1)", prepaidUnits: { enabled: 20 },
      servicePlans: [plan(P.exchangeStandard, "EXCHANGE_S_STANDARD", "exchange")], subscription: sub(2),
    },
    {
      skuId: DEMO_SKUS.powerAppsPerUser, skuPartNumber: "POWERAPPS_PER_USER", displayName: "Power Apps per user", prepaidUnits: { enabled: 60 },
      servicePlans: [
        plan(P.powerAppsPerUser, "POWERAPPS_PER_USER", "PowerAppsService"), plan(P.dataverseP2, "DYN365_CDS_P2", "CRM"),
        plan(P.flowForPowerApps, "Flow_PowerApps_PerUser", "ProcessSimple"),
      ],
      subscription: sub(3, { nextLifecycleDateTime: "2026-12-31T00:00:00Z" }),
    },
    {
      skuId: DEMO_SKUS.powerAutomatePerUser, skuPartNumber: "FLOW_PER_USER", displayName: "Power Automate per user", prepaidUnits: { enabled: 15 },
      servicePlans: [plan(P.flowPerUser, "FLOW_PER_USER", "ProcessSimple"), plan(P.dataverseP2, "DYN365_CDS_P2", "CRM")],
      subscription: sub(4),
    },
    {
      skuId: DEMO_SKUS.powerAutomatePremium, skuPartNumber: "POWERAUTOMATE_ATTENDED_RPA", displayName: "Power Automate Premium", prepaidUnits: { enabled: 5 },
      servicePlans: [plan(P.attendedRpa, "POWER_AUTOMATE_ATTENDED_RPA", "ProcessSimple"), plan(P.dataverseRpa, "CDS_ATTENDED_RPA", "CRM")],
      subscription: sub(5),
    },
    {
      skuId: DEMO_SKUS.powerAppsTrial, skuPartNumber: "POWERAPPS_VIRAL", displayName: "Microsoft Power Apps Plan 2 Trial", prepaidUnits: { enabled: 10000 },
      servicePlans: [plan(P.dataverseViral, "DYN365_CDS_VIRAL", "CRM"), plan(P.flowViral, "FLOW_P2_VIRAL", "ProcessSimple"), plan(P.powerAppsViral, "POWERAPPS_P2_VIRAL", "PowerAppsService")],
      subscription: sub(6, { isTrial: true, nextLifecycleDateTime: "2026-09-30T00:00:00Z" }),
    },
    {
      skuId: DEMO_SKUS.powerAutomateFree, skuPartNumber: "FLOW_FREE", displayName: "Microsoft Power Automate Free", prepaidUnits: { enabled: 10000 },
      servicePlans: [plan(P.dataverseViral, "DYN365_CDS_VIRAL", "CRM"), plan(P.flowViral, "FLOW_P2_VIRAL", "ProcessSimple")],
      subscription: sub(7, { nextLifecycleDateTime: null }),
    },
    {
      skuId: DEMO_SKUS.powerBiProSelfService, skuPartNumber: "POWER_BI_PRO", displayName: "Power BI Pro (self-service purchase)", prepaidUnits: { enabled: 3 },
      servicePlans: [plan(P.powerBi, "BI_AZURE_P2", "PowerBI")],
      subscription: sub(8, { ownerType: "User", ownerId: user(8), ownerTenantId: DEMO_TENANT_ID, nextLifecycleDateTime: "2026-11-05T00:00:00Z" }),
    },
    {
      skuId: DEMO_SKUS.teamsPhone, skuPartNumber: "MCOEV", displayName: "Microsoft Teams Phone Standard", prepaidUnits: { enabled: 10 },
      servicePlans: [plan(P.teamsPhone, "MCOEV", "MicrosoftCommunicationsOnline")],
      subscription: sub(9),
    },
    {
      // The tenant's Power BI product for a Power BI policy (the Pro above is a self-service purchase).
      skuId: DEMO_SKUS.powerBiPremiumPerUser, skuPartNumber: "PBI_PREMIUM_PER_USER", displayName: "Power BI Premium Per User", prepaidUnits: { enabled: 25 },
      servicePlans: [plan(P.powerBiPremiumPerUser, "BI_AZURE_P3", "PowerBI"), plan(P.powerBi, "BI_AZURE_P2", "PowerBI")],
      subscription: sub(10),
    },
  ];
}

/** The standard roles of a Dataverse environment, with ids stable per environment. */
function roles(envId: string) {
  const names = ["System Administrator", "System Customizer", "Basic User", "Environment Maker", "Sales Person"];
  return names.map((name, i) => ({ roleid: guidFor(`demo-role:${envId}`, i + 1), name, ismanaged: true }));
}

export function demoRoleId(envId: string, name: "System Administrator" | "System Customizer" | "Basic User" | "Environment Maker" | "Sales Person"): string {
  const names = ["System Administrator", "System Customizer", "Basic User", "Environment Maker", "Sales Person"];
  return guidFor(`demo-role:${envId}`, names.indexOf(name) + 1);
}

function platformUsers(envId: string): FixtureSystemUserInput[] {
  return [
    { systemuserid: guidFor(`demo-su-platform:${envId}`, 1), fullname: "SYSTEM", domainname: "", islicensed: false, accessmode: 0 },
    { systemuserid: guidFor(`demo-su-platform:${envId}`, 2), fullname: "INTEGRATION", domainname: "", islicensed: false, accessmode: 0 },
  ];
}

function syncedUser(envId: string, u: FixtureUserInput, extra: Partial<FixtureSystemUserInput> = {}): FixtureSystemUserInput {
  return {
    systemuserid: guidFor(`demo-su:${envId}`, parseInt(u.id.slice(0, 8), 16)),
    azureactivedirectoryobjectid: u.id,
    domainname: u.userPrincipalName,
    internalemailaddress: u.mail ?? u.userPrincipalName,
    windowsliveid: u.userPrincipalName,
    firstname: u.givenName ?? null,
    lastname: u.surname ?? null,
    title: u.jobTitle ?? null,
    mobilephone: u.mobilePhone ?? null,
    address1_telephone1: u.businessPhones?.[0] ?? null,
    address1_line1: u.streetAddress ?? null,
    address1_city: u.city ?? null,
    address1_stateorprovince: u.state ?? null,
    address1_country: u.country ?? null,
    isdisabled: false,
    islicensed: (u.licenses?.length ?? 0) > 0,
    accessmode: 0,
    createdon: "2024-03-01T08:00:00Z",
    roles: [demoRoleId(envId, "Basic User")],
    ...extra,
  };
}

function specialUsers(envId: string): FixtureSystemUserInput[] {
  return [
    {
      systemuserid: guidFor(`demo-su-special:${envId}`, 1), azureactivedirectoryobjectid: DEMO_IDS.servicePrincipals.integration,
      applicationid: DEMO_IDS.integrationAppId, domainname: `${DEMO_IDS.integrationAppId}@${DEMO_DOMAIN}`, fullname: "# Contoso ERP Integration",
      accessmode: 4, islicensed: false, roles: [demoRoleId(envId, "System Administrator")],
    },
    {
      systemuserid: guidFor(`demo-su-special:${envId}`, 2), azureactivedirectoryobjectid: DEMO_APP.servicePrincipalId,
      applicationid: DEMO_APP.appId, domainname: `${DEMO_APP.appId}@${DEMO_DOMAIN}`, fullname: "# License Control Plane",
      accessmode: 4, islicensed: false, roles: [demoRoleId(envId, "System Administrator")],
    },
    {
      systemuserid: guidFor(`demo-su-special:${envId}`, 3), azureactivedirectoryobjectid: guidFor("demo-support", 1),
      domainname: "crmoln2@microsoft.com", fullname: "Support User", accessmode: 3, islicensed: false,
    },
    {
      systemuserid: guidFor(`demo-su-special:${envId}`, 4), azureactivedirectoryobjectid: guidFor("demo-delegated-admin", 1),
      domainname: "admin@partner.example", fullname: "Delegated Admin (Partner)", accessmode: 5, islicensed: false,
    },
    {
      systemuserid: guidFor(`demo-su-special:${envId}`, 5), domainname: `former.employee@${DEMO_DOMAIN}`, firstname: "Former", lastname: "Employee",
      isdisabled: true, islicensed: false, azurestate: 2, accessmode: 0,
    },
  ];
}

function environments(users: FixtureUserInput[]): FixtureEnvironmentInput[] {
  const E = DEMO_IDS.environments;
  const byId = new Map(users.map((u) => [u.id, u]));
  const pick = (n: number) => byId.get(user(n)) as FixtureUserInput;
  const dataverse = (envId: string, domain: string, systemusers: FixtureSystemUserInput[]) => ({
    domainName: domain,
    organizationId: guidFor(`demo-org:${envId}`, 1),
    businessUnitId: guidFor(`demo-bu:${envId}`, 1),
    roles: roles(envId),
    systemusers: [...platformUsers(envId), ...systemusers],
  });
  const prodUsers: FixtureSystemUserInput[] = [
    syncedUser(E.production, pick(1), { roles: [demoRoleId(E.production, "System Administrator")] }),
    syncedUser(E.production, pick(5), { accessmode: 1, islicensed: false, roles: [demoRoleId(E.production, "System Administrator")] }),
    ...[20, 21, 22, 23, 24, 26, 27, 28, 29, 31, 32, 33, 34, 35, 36, 37, 38, 39, 41, 42, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53].map((n) => syncedUser(E.production, pick(n))),
    // Disabled in Entra (user 60) but still enabled here: drift for the sync to find.
    syncedUser(E.production, pick(60)),
    // Disabled here while enabled and eligible in Entra.
    syncedUser(E.production, pick(54), { isdisabled: true }),
    // Soft-deleted in Entra.
    syncedUser(E.production, pick(296), { azurestate: 1 }),
    // A non-interactive user (accessmode 4, no application id).
    syncedUser(E.production, pick(55), { accessmode: 4, islicensed: false }),
    ...specialUsers(E.production),
  ];
  return [
    {
      id: E.default, displayName: "Contoso (default)", environmentSku: "Default", createdTime: "2023-11-01T09:00:00Z",
      dataverse: dataverse(E.default, "contoso-default", [
        syncedUser(E.default, pick(1), { roles: [demoRoleId(E.default, "System Administrator")] }),
        ...[2, 3, 4, 20, 21, 22].map((n) => syncedUser(E.default, pick(n))),
        ...specialUsers(E.default),
      ]),
    },
    {
      id: E.production, displayName: "Contoso Sales", environmentSku: "Production", createdTime: "2024-01-10T09:00:00Z", createdBy: user(1),
      securityGroupId: DEMO_IDS.groups.sales, dataverse: dataverse(E.production, "contoso-sales", prodUsers),
    },
    {
      id: E.sandbox, displayName: "Contoso Sales (test)", environmentSku: "Sandbox", createdTime: "2024-01-11T09:00:00Z", createdBy: user(5),
      securityGroupId: DEMO_IDS.groups.sandboxTesters,
      dataverse: dataverse(E.sandbox, "contoso-sales-test", [...[20, 21, 22].map((n) => syncedUser(E.sandbox, pick(n))), ...specialUsers(E.sandbox).slice(0, 2)]),
    },
    {
      id: E.trial, displayName: "Contoso Trial", environmentSku: "Trial", createdTime: "2026-01-05T09:00:00Z", createdBy: user(20),
      expirationTime: "2026-02-04T09:00:00Z",
      dataverse: dataverse(E.trial, "contoso-trial", [syncedUser(E.trial, pick(20)), ...specialUsers(E.trial).slice(1, 2)]),
    },
    {
      id: E.developer, displayName: "Dana Developer's Environment", environmentSku: "Developer", createdTime: "2025-03-01T09:00:00Z", createdBy: user(7),
      dataverse: dataverse(E.developer, "contoso-dev-dana", [syncedUser(E.developer, pick(7), { roles: [demoRoleId(E.developer, "System Administrator")] })]),
    },
    {
      id: E.teams, displayName: "Sales Team", environmentSku: "Teams", createdTime: "2025-05-01T09:00:00Z", createdBy: user(20),
      securityGroupId: DEMO_IDS.groups.teamsEnvironment,
      dataverse: dataverse(E.teams, "contoso-salesteam", [syncedUser(E.teams, pick(20)), syncedUser(E.teams, pick(21))]),
    },
    {
      id: E.noDataverse, displayName: "Contoso Flows (no Dataverse)", environmentSku: "Production", createdTime: "2024-06-01T09:00:00Z",
      createdBy: user(1), dataverse: null,
    },
  ];
}

function signIns(): FixtureSignInInput[] {
  const entries: FixtureSignInInput[] = [];
  const apps = [DEMO_SIGNIN_APPS.powerApps, DEMO_SIGNIN_APPS.powerAutomate, DEMO_SIGNIN_APPS.dynamics];
  const base = Date.UTC(2026, 0, 12, 8, 0, 0);
  const who = [1, 20, 21, 22, 26, 101, 102, 131, 7, 301];
  who.forEach((n, i) => {
    const u = memberUser(n);
    const app = apps[i % apps.length] ?? DEMO_SIGNIN_APPS.powerApps;
    entries.push({
      id: guidFor(`demo-signin:${DEMO_TENANT_ID}`, i + 1),
      createdDateTime: new Date(base + i * 37 * 60_000).toISOString(),
      userId: u.id,
      userPrincipalName: n === 1 ? `adele.vance@${DEMO_DOMAIN}` : u.userPrincipalName,
      appId: app.appId,
      appDisplayName: app.appDisplayName,
      status: i === 9 ? { errorCode: 50126, failureReason: "Error validating credentials due to invalid username or password." } : { errorCode: 0 },
    });
  });
  return entries;
}

function directoryRoles(): NonNullable<TenantFixture["directoryRoles"]> {
  const R = DirectoryRoleTemplateIds;
  return [
    { roleTemplateId: R.globalAdministrator, displayName: "Global Administrator", members: [user(1)] },
    { roleTemplateId: R.globalReader, displayName: "Global Reader", members: [user(2)] },
    { roleTemplateId: R.licenseAdministrator, displayName: "License Administrator", members: [user(3)] },
    { roleTemplateId: R.userAdministrator, displayName: "User Administrator", members: [user(4)] },
    { roleTemplateId: R.powerPlatformAdministrator, displayName: "Power Platform Administrator", members: [user(5)] },
    { roleTemplateId: R.dynamics365Administrator, displayName: "Dynamics 365 Administrator", members: [user(6)] },
  ];
}

function servicePlanRules(): NonNullable<TenantFixture["servicePlanRules"]> {
  return {
    mutuallyExclusive: [[DEMO_PLANS.exchangeStandard, DEMO_PLANS.exchangeEnterprise]],
    dependencies: [{ servicePlanId: DEMO_PLANS.teamsPhone, requiresAnyOf: [DEMO_PLANS.teamsSkype] }],
  };
}

/** The demo tenant fixture (deterministic: the same document on every call). */
export function buildDemoTenant(): TenantFixture {
  const users = demoUsers();
  return {
    tenant: { id: DEMO_TENANT_ID, displayName: DEMO_TENANT_NAME, defaultDomain: DEMO_DOMAIN, countryLetterCode: "NL" },
    users,
    groups: groups(),
    servicePrincipals: servicePrincipals(),
    skus: skus(),
    servicePlanRules: servicePlanRules(),
    directoryRoles: directoryRoles(),
    environments: environments(users),
    signIns: signIns(),
  };
}

export interface LargeTenantOptions {
  /** Number of generated member users (default 100,000). */
  users?: number;
  /** Direct members of the large group (the first N users; default 60,000). */
  groupMembers?: number;
  /** systemusers already present in the Production environment (the first N users; default 0). */
  dataverseUsers?: number;
  /** Share of generated users holding Power Apps per user, a license that gives Dataverse access (default 0.8). */
  licensedShare?: number;
}

export const LARGE_GROUP_ID = "b0000000-0000-4000-8000-00000000b001";
export const LARGE_TENANT_ID = "6a2d7f3b-8e4c-4d9f-8b52-3c7e1f9a4d28";
export const LARGE_ENVIRONMENT_ID = "b0000000-0000-4000-8000-00000000e001";

/** Id of the n-th generated user (1-based) of the large tenant. */
export function largeTenantUserId(n: number): string {
  return guidFor(`large-user:${LARGE_TENANT_ID}`, n);
}

const NO_LICENSES: never[] = [];

/** The share of the large tenant's users who hold a license that gives Dataverse access. */
export const LARGE_TENANT_LICENSED_SHARE = 0.8;

/** Whether user n of the large tenant is licensed: every k-th user is not, k = 1 / (1 - share). */
export function largeTenantUserLicensed(n: number, share = LARGE_TENANT_LICENSED_SHARE): boolean {
  if (share >= 1) return true;
  if (share <= 0) return false;
  const unlicensedEvery = Math.max(1, Math.round(1 / (1 - share)));
  return n % unlicensedEvery !== 0;
}

/** Every 97th user of the large tenant is disabled in Entra (so never eligible). */
export function largeTenantUserEnabled(n: number): boolean {
  return n % 97 !== 0;
}

/**
 * A large tenant for benchmarks: N users (the demo products, admins and environments around
 * them), one security group with M direct members that guards a Production environment.
 * Built without schema validation (every default already filled in) so 100,000 users take
 * well under a second and little memory.
 */
export function buildLargeTenant(options: LargeTenantOptions = {}): ParsedFixture {
  const count = options.users ?? 100_000;
  const members = Math.min(options.groupMembers ?? 60_000, count);
  const dvUsers = Math.min(options.dataverseUsers ?? 0, count);
  const licensedShare = options.licensedShare ?? LARGE_TENANT_LICENSED_SHARE;
  const domain = "large-sim.onmicrosoft.com";
  // A license that gives Dataverse access: Office 365 E3 alone would not (its Power Apps and Power
  // Automate plans are Microsoft 365 use rights, honoured only for on-demand adds), and the first
  // full sync would add no one.
  const powerApps = [{ skuId: DEMO_SKUS.powerAppsPerUser, disabledPlans: NO_LICENSES as string[], assignedDateTime: "2024-02-01T10:00:00Z" }];
  const users: ParsedUser[] = new Array<ParsedUser>(count);
  const memberIds: string[] = new Array<string>(members);
  for (let n = 1; n <= count; n++) {
    const id = largeTenantUserId(n);
    const given = FIRST[n % FIRST.length] ?? "Alex";
    const sur = LAST[(n >>> 5) % LAST.length] ?? "Smit";
    const upn = ["u", n, "@", domain].join("");
    users[n - 1] = {
      id,
      userPrincipalName: upn,
      displayName: [given, sur, n].join(" "),
      givenName: given,
      surname: sur,
      mail: upn,
      userType: "Member",
      accountEnabled: largeTenantUserEnabled(n),
      usageLocation: "NL",
      createdDateTime: "2024-01-15T09:00:00.000Z",
      licenses: largeTenantUserLicensed(n, licensedShare) ? powerApps : NO_LICENSES,
    };
    if (n <= members) memberIds[n - 1] = id;
  }
  const demo = buildDemoTenant();
  const skuList = (demo.skus ?? []).map((s) => (s.skuId === DEMO_SKUS.powerAppsPerUser ? { ...s, prepaidUnits: { enabled: count + 1000 } } : s));
  const admins = (demo.users ?? []).filter((u) => [1, 2, 3, 4, 5, 6].some((n) => u.id === user(n)));
  const systemusers: ParsedSystemUser[] = [];
  for (let n = 1; n <= dvUsers; n++) {
    const u = users[n - 1] as ParsedUser;
    systemusers.push({
      systemuserid: guidFor(`large-su:${LARGE_TENANT_ID}`, n), azureactivedirectoryobjectid: u.id, domainname: u.userPrincipalName,
      internalemailaddress: u.mail ?? null, windowsliveid: u.userPrincipalName, fullname: u.displayName, firstname: u.givenName ?? null,
      lastname: u.surname ?? null, title: null, mobilephone: null, address1_telephone1: null, address1_line1: null, address1_city: null,
      address1_stateorprovince: null, address1_country: null, isdisabled: false, islicensed: true, applicationid: null, accessmode: 0,
      azurestate: 0, createdon: "2024-03-01T08:00:00Z", roles: [],
    });
  }
  const input: TenantFixture = {
    tenant: { id: LARGE_TENANT_ID, displayName: "Large tenant (simulated)", defaultDomain: domain, countryLetterCode: "NL" },
    users: admins,
    groups: [],
    servicePrincipals: servicePrincipals(),
    skus: skuList,
    servicePlanRules: servicePlanRules(),
    directoryRoles: directoryRoles(),
    environments: [{
      id: LARGE_ENVIRONMENT_ID, displayName: "Large Production", environmentSku: "Production", createdTime: "2024-01-10T09:00:00Z",
      securityGroupId: LARGE_GROUP_ID,
      dataverse: { domainName: "large-prod", organizationId: guidFor("large-org", 1), businessUnitId: guidFor("large-bu", 1), roles: roles(LARGE_ENVIRONMENT_ID), systemusers: [] },
    }],
    signIns: [],
  };
  // Validate the small part through the schema, then add the generated bulk unvalidated.
  const small = parseFixture(input);
  small.users.push(...users);
  small.groups.push({
    id: LARGE_GROUP_ID, displayName: "Large security group", description: null, mailNickname: "largegroup", securityEnabled: true,
    mailEnabled: false, groupTypes: [], members: memberIds, owners: [], assignedLicenses: [],
  });
  small.environments[0]?.dataverse?.systemusers.push(...systemusers);
  return trustFixture(small);
}
