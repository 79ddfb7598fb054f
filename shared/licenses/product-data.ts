/**
 * Product facts Graph does not publish in `subscribedSkus` (it has no display name and no kind).
 * Display names follow Microsoft's "Product names and service plan identifiers for licensing"
 * list; a part number missing here shows as itself. Free (tracking-only) products are recognised
 * by part number, as L1 says.
 */
export const PRODUCT_DISPLAY_NAMES: Readonly<Record<string, string>> = {
  ENTERPRISEPACK: "Office 365 E3",
  ENTERPRISEPREMIUM: "Office 365 E5",
  STANDARDPACK: "Office 365 E1",
  SPE_E3: "Microsoft 365 E3",
  SPE_E5: "Microsoft 365 E5",
  SPB: "Microsoft 365 Business Premium",
  O365_BUSINESS_PREMIUM: "Microsoft 365 Business Standard",
  EXCHANGESTANDARD: "Exchange Online (Plan 1)",
  EXCHANGEENTERPRISE: "Exchange Online (Plan 2)",
  POWERAPPS_PER_USER: "Power Apps Premium",
  POWERAPPS_VIRAL: "Microsoft Power Apps Plan 2 Trial",
  POWERAPPS_DEV: "Microsoft Power Apps for Developer",
  FLOW_PER_USER: "Power Automate per user plan",
  FLOW_FREE: "Microsoft Power Automate Free",
  POWERAUTOMATE_ATTENDED_RPA: "Power Automate Premium",
  POWER_BI_PRO: "Power BI Pro",
  POWER_BI_STANDARD: "Microsoft Fabric (Free)",
  MCOEV: "Microsoft Teams Phone Standard",
  TEAMS_EXPLORATORY: "Microsoft Teams Exploratory",
  DYN365_ENTERPRISE_PLAN1: "Dynamics 365 Customer Engagement Plan",
  DYN365_ENTERPRISE_SALES: "Dynamics 365 Sales Enterprise Edition",
};

/** Products Microsoft gives away for tracking (no purchase; L1 kind "free"). */
export const FREE_PART_NUMBERS: ReadonlySet<string> = new Set([
  "FLOW_FREE",
  "POWER_BI_STANDARD",
  "POWERAPPS_DEV",
  "TEAMS_EXPLORATORY",
  "CCIBOTS_PRIVPREV_VIRAL",
  "STREAM",
  "WINDOWS_STORE",
  "RIGHTSMANAGEMENT_ADHOC",
]);

export function productDisplayName(skuPartNumber: string): string {
  return PRODUCT_DISPLAY_NAMES[skuPartNumber] ?? skuPartNumber;
}
