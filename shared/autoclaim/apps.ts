/**
 * First-party applications the auto-claim rules know by id (A8, A9, L12). Sign-in events may come
 * for any application (E1 sends its client id; events without a policy are skipped); a policy names
 * one of `POLICY_APPS`.
 */
export const KNOWN_APPS = {
  powerApps: { appId: "a8f7a65c-f5ba-4859-b2d6-df772c264e9d", displayName: "Power Apps" },
  powerAutomate: { appId: "6204c1d1-4712-4c46-a7d9-3ed63d992682", displayName: "Power Automate" },
  powerBi: { appId: "871c010f-5e61-4fb1-83ac-98610a7e9110", displayName: "Power BI" },
  dataverse: { appId: "00000007-0000-0000-c000-000000000000", displayName: "Dataverse" },
} as const;

export type KnownApp = keyof typeof KNOWN_APPS;

/**
 * The apps a policy may name, as the Microsoft 365 admin center lists them (A): the apps whose users
 * claim a license. Not Dataverse: it is the resource of first-access events (D4), not an app to claim for.
 */
export const POLICY_APPS = [KNOWN_APPS.powerApps, KNOWN_APPS.powerAutomate, KNOWN_APPS.powerBi] as const;
export const POLICY_APP_IDS = [KNOWN_APPS.powerApps.appId, KNOWN_APPS.powerAutomate.appId, KNOWN_APPS.powerBi.appId] as const;
export type PolicyAppId = (typeof POLICY_APP_IDS)[number];

export function isPolicyApp(appId: string): appId is PolicyAppId {
  return (POLICY_APP_IDS as readonly string[]).includes(appId.toLowerCase());
}

export function knownAppOf(appId: string): KnownApp | undefined {
  const id = appId.toLowerCase();
  return (Object.keys(KNOWN_APPS) as KnownApp[]).find((k) => KNOWN_APPS[k].appId === id);
}

export function appDisplayName(appId: string): string | null {
  const known = knownAppOf(appId);
  return known ? KNOWN_APPS[known].displayName : null;
}
