import { randomUUID } from "node:crypto";
import { classifySkus } from "../../../shared/sync/licensing.js";
import type { DirectoryUser, PlatformEnvironment, SystemUserRow, TenantFacts } from "../../../shared/sync/model.js";

/** Small builders for the sync's pure functions: every test states only what matters to it. */
export const SKUS = {
  /** Power Apps per user: a plan that grants Dataverse access. */
  powerApps: "b30411f5-fea1-4a59-9ad9-3db7c7ead579",
  /** A Microsoft 365 product whose only Dataverse plan is the free one. */
  m365FreeDataverse: "11111111-1111-4111-8111-111111111111",
  /** Exchange only: no Dataverse access at all. */
  exchange: "4b9405b0-7788-4568-add1-99614e613b69",
  /** A suspended Power Apps subscription. */
  suspended: "22222222-2222-4222-8222-222222222222",
} as const;

export const PLANS = {
  powerApps: "ea2cf03b-ac60-46ae-9c1d-eeaeb63cec86",
  freeCds: "33333333-3333-4333-8333-333333333333",
  exchange: "9aaf7827-d63c-4b61-89c3-182f06f82e5c",
  suspendedPowerApps: "44444444-4444-4444-8444-444444444444",
} as const;

export const GROUP = "55555555-5555-4555-8555-555555555555";

export function facts(overrides: Partial<TenantFacts> = {}, extraSkus: { skuPartNumber: string; skuId: string }[] = []): TenantFacts {
  const classified = classifySkus([
    { skuId: SKUS.powerApps, skuPartNumber: "POWERAPPS_PER_USER", capabilityStatus: "Enabled", servicePlans: [{ servicePlanId: PLANS.powerApps, servicePlanName: "POWERAPPS_PER_USER" }] },
    { skuId: SKUS.m365FreeDataverse, skuPartNumber: "O365_BUSINESS", capabilityStatus: "Enabled", servicePlans: [{ servicePlanId: PLANS.freeCds, servicePlanName: "DYN365_CDS_O365_P2" }, { servicePlanId: PLANS.exchange, servicePlanName: "EXCHANGE_S_STANDARD" }] },
    { skuId: SKUS.exchange, skuPartNumber: "EXCHANGESTANDARD", capabilityStatus: "Enabled", servicePlans: [{ servicePlanId: PLANS.exchange, servicePlanName: "EXCHANGE_S_STANDARD" }] },
    { skuId: SKUS.suspended, skuPartNumber: "POWERAPPS_PER_USER_OLD", capabilityStatus: "Suspended", servicePlans: [{ servicePlanId: PLANS.suspendedPowerApps, servicePlanName: "POWERAPPS_PER_USER" }] },
    ...extraSkus.map((s) => ({ ...s, capabilityStatus: "Enabled", servicePlans: [] })),
  ]);
  return {
    skus: classified.skus,
    marketing: classified.marketing,
    admins: { global: [], powerPlatform: [], dynamics: [] },
    owners: {},
    ...overrides,
  };
}

export function user(overrides: Partial<DirectoryUser> = {}): DirectoryUser {
  const id = overrides.id ?? randomUUID();
  return {
    id,
    upn: `u-${id.slice(0, 8)}@contoso.example`,
    accountEnabled: true,
    userType: "Member",
    displayName: "Alex Smit",
    givenName: "Alex",
    surname: "Smit",
    mail: `alex.${id.slice(0, 8)}@contoso.example`,
    jobTitle: "Specialist",
    mobilePhone: "+31 6 1234",
    businessPhone: "+31 20 555",
    streetAddress: "Oudegracht 1",
    city: "Utrecht",
    state: "Utrecht",
    country: "Netherlands",
    licenses: [{ skuId: SKUS.powerApps, disabledPlans: [] }],
    groups: [GROUP],
    ...overrides,
  };
}

export function environment(overrides: Partial<PlatformEnvironment> = {}, dataverse: Partial<NonNullable<PlatformEnvironment["dataverse"]>> | null = {}): PlatformEnvironment {
  return {
    id: "a0000000-0000-4000-8000-00000000e001",
    displayName: "Sales",
    type: "Production",
    dataverse: dataverse === null ? null : { instanceUrl: "https://contoso.crm4.dynamics.com/", domainName: "contoso", securityGroupId: GROUP, ...dataverse },
    createdBy: null,
    appPassCapacity: false,
    region: "westeurope",
    expirationTime: null,
    ...overrides,
  };
}

/** The record the platform would hold for `u`, in step with Entra. */
export function rowFor(u: DirectoryUser, overrides: Partial<SystemUserRow> = {}): SystemUserRow {
  return {
    systemuserid: randomUUID(),
    azureactivedirectoryobjectid: u.id,
    domainname: u.upn,
    internalemailaddress: u.mail ?? u.upn,
    fullname: u.displayName,
    firstname: u.givenName,
    lastname: u.surname,
    title: u.jobTitle,
    mobilephone: u.mobilePhone,
    address1_telephone1: u.businessPhone,
    address1_line1: u.streetAddress,
    address1_city: u.city,
    address1_stateorprovince: u.state,
    address1_country: u.country,
    isdisabled: false,
    islicensed: true,
    applicationid: null,
    accessmode: 0,
    azurestate: 0,
    ...overrides,
  };
}
