/**
 * Entra directory role template ids (the `wids` claim) and the access matrix of P4.
 * Each endpoint names one of the ACCESS entries below, so the whole matrix reads in one file.
 */
export const DIRECTORY_ROLES = {
  "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
  "Global Reader": "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
  "License Administrator": "4d6ac14f-3453-41d0-bef9-a3e0c569773a",
  "User Administrator": "fe930be7-5e62-47db-91af-98c3a49a38b1",
  "Power Platform Administrator": "11648597-926c-4cf3-9c36-bcebb0ba8dcc",
  "Dynamics 365 Administrator": "44367163-eba1-44c3-98af-f5787879f96a",
} as const;

export type DirectoryRole = keyof typeof DIRECTORY_ROLES;
export const DIRECTORY_ROLE_NAMES = Object.keys(DIRECTORY_ROLES) as DirectoryRole[];

const BY_TEMPLATE_ID = new Map<string, DirectoryRole>(
  Object.entries(DIRECTORY_ROLES).map(([name, id]) => [id, name as DirectoryRole]),
);

export function rolesFromWids(wids: readonly string[]): DirectoryRole[] {
  return wids.flatMap((w) => {
    const role = BY_TEMPLATE_ID.get(w.toLowerCase());
    return role ? [role] : [];
  });
}

/** App roles an application token can carry. */
export const APP_ROLES = { signInEventsSend: "SignInEvents.Send" } as const;
export type AppRole = (typeof APP_ROLES)[keyof typeof APP_ROLES];

export type Access =
  /** No token (health, OpenAPI document). */
  | { kind: "public" }
  /** A user token with one of these directory roles, for the route's tenant. */
  | {
      kind: "directoryRoles";
      anyOf: readonly DirectoryRole[];
      allowNotOnboarded?: boolean;
      /** Also an application token with this app role (the handler limits what it may see). */
      orAppRole?: AppRole;
    }
  /** An application token with this app role, for the route's tenant. */
  | { kind: "appRole"; role: AppRole }
  /**
   * E1: a token Microsoft Entra issues to call a custom authentication extension (the extension's
   * audience, Entra's caller app). Not an admin token: the endpoint's own handler checks it.
   */
  | { kind: "entraExtension" };

const GA: DirectoryRole = "Global Administrator";
const READER: DirectoryRole = "Global Reader";
const LICENSE_WRITERS: DirectoryRole[] = [GA, "License Administrator", "User Administrator"];
const ENVIRONMENT_WRITERS: DirectoryRole[] = [GA, "Power Platform Administrator", "Dynamics 365 Administrator"];

/** The P4 matrix. */
export const ACCESS = {
  public: { kind: "public" },
  /** Onboarding a tenant: a Global Administrator of that tenant (the tenant need not be onboarded yet). */
  tenantOnboard: { kind: "directoryRoles", anyOf: [GA], allowNotOnboarded: true },
  /** Every GET: any admin role of the matrix plus Global Reader (alert settings: the webhook URL whole only for a Global Administrator). */
  read: { kind: "directoryRoles", anyOf: DIRECTORY_ROLE_NAMES },
  /** Pause switch, auto-claim settings and policies, alert settings (L18). */
  tenantAdminWrite: { kind: "directoryRoles", anyOf: [GA] },
  /** Auto-claim reports and the active-user license report (L13). */
  globalReports: { kind: "directoryRoles", anyOf: [GA, READER] },
  licenseWrite: { kind: "directoryRoles", anyOf: LICENSE_WRITERS },
  environmentWrite: { kind: "directoryRoles", anyOf: ENVIRONMENT_WRITERS },
  signInEventsSend: { kind: "appRole", role: APP_ROLES.signInEventsSend },
  /** Any admin, or the relay that sent the event (E3: it polls the Location it was given). */
  signInEventRead: { kind: "directoryRoles", anyOf: DIRECTORY_ROLE_NAMES, orAppRole: APP_ROLES.signInEventsSend },
  entraExtension: { kind: "entraExtension" },
} as const satisfies Record<string, Access>;
