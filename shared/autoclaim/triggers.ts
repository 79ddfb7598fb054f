import { z } from "zod";
import type { GraphLicenseState, GraphUser } from "../licenses/graph-licensing.js";
import { isActive, productIndex, statesOf } from "../licenses/license-state.js";
import type { Catalog, Product } from "../licenses/model.js";
import { knownAppOf, type KnownApp } from "./apps.js";

/**
 * What a user did that may earn a license (the `trigger` of a sign-in event). E1 and E2 only see
 * sign-ins; the fine-grained Power Apps (A8) and Power Automate (A9) triggers come from relays (E3).
 */
export const TRIGGERS = [
  "sign-in",
  "first-access",
  "premium-app-launch",
  "managed-environment-app-launch",
  "premium-flow-run",
  "premium-flow-save",
  "premium-flow-turn-on",
  "rpa-flow-run",
  "rpa-flow-save",
  "rpa-flow-turn-on",
] as const;
export const triggerSchema = z.enum(TRIGGERS).describe(
  "sign-in: first sign-in to the app (E1, E2, relays); first-access: first access to a Dataverse environment (hands the event to the " +
    "Dataverse sync, claims nothing); premium-app-launch / managed-environment-app-launch: Power Apps (A8); premium-flow-run / -save / " +
    "-turn-on: Power Automate (A9); rpa-flow-*: the attended-RPA variants, which only a Power Automate Premium product serves (A9).",
);
export type Trigger = z.infer<typeof triggerSchema>;

const POWER_APPS_TRIGGERS: ReadonlySet<Trigger> = new Set(["premium-app-launch", "managed-environment-app-launch"]);
const FLOW_TRIGGERS: ReadonlySet<Trigger> = new Set(["premium-flow-run", "premium-flow-save", "premium-flow-turn-on"]);
const RPA_TRIGGERS: ReadonlySet<Trigger> = new Set(["rpa-flow-run", "rpa-flow-save", "rpa-flow-turn-on"]);

/** Part numbers of the Power Automate Premium plan (the only products the RPA triggers may claim). */
export const POWER_AUTOMATE_PREMIUM_PART_NUMBERS: ReadonlySet<string> = new Set(["POWERAUTOMATE_ATTENDED_RPA"]);

export function isRpaTrigger(trigger: Trigger): boolean {
  return RPA_TRIGGERS.has(trigger);
}

/** True when the trigger hands the event to the Dataverse sync (D4). */
export function isFirstAccessTrigger(trigger: Trigger): boolean {
  return trigger === "first-access";
}

export type TriggerVerdict = { qualifies: true } | { qualifies: false; reason: string };

/**
 * Whether a trigger may claim a license for a policy of this app (A8, A9; any other app claims at
 * its first sign-in). Which of the policy's products it may claim is `productQualifies`.
 */
export function triggerQualifies(appId: string, trigger: Trigger): TriggerVerdict {
  const app = knownAppOf(appId);
  if (trigger === "first-access") return { qualifies: false, reason: "a first access to an environment claims no license (it goes to the Dataverse sync)" };
  if (app === "powerApps") {
    return POWER_APPS_TRIGGERS.has(trigger)
      ? { qualifies: true }
      : { qualifies: false, reason: `Power Apps claims on premium-app-launch or managed-environment-app-launch (A8), not on ${trigger}` };
  }
  if (app === "powerAutomate") {
    return FLOW_TRIGGERS.has(trigger) || RPA_TRIGGERS.has(trigger)
      ? { qualifies: true }
      : { qualifies: false, reason: `Power Automate claims when a premium cloud flow is run, saved or turned on (A9), not on ${trigger}` };
  }
  return trigger === "sign-in" ? { qualifies: true } : { qualifies: false, reason: `this app claims at sign-in, not on ${trigger}` };
}

/** A9: the attended-RPA triggers are served only by the Premium plan; every other trigger by any product of the policy. */
export function productQualifies(trigger: Trigger, skuPartNumber: string | undefined): boolean {
  if (!RPA_TRIGGERS.has(trigger)) return true;
  return skuPartNumber !== undefined && POWER_AUTOMATE_PREMIUM_PART_NUMBERS.has(skuPartNumber);
}

/**
 * The service plans that give a user the app a policy is for (A2: the admin center offers, for an
 * app, the products that license it): Power Apps Premium (per user) for Power Apps, Power Automate
 * per user or Premium for Power Automate, Power BI Pro or Premium Per User for Power BI. The Power
 * Apps, Power Automate and Dataverse plans of Office 365, Dynamics 365, trials and free plans do not
 * count, nor the flow plan bundled with Power Apps Premium (it covers flows inside its apps only).
 */
const APP_PLANS: Readonly<Record<"powerApps" | "powerAutomate" | "powerBi", readonly string[]>> = {
  powerApps: ["POWERAPPS_PER_USER"],
  powerAutomate: ["FLOW_PER_USER", "POWER_AUTOMATE_ATTENDED_RPA"],
  powerBi: ["BI_AZURE_P2", "BI_AZURE_P3"],
};

/** A policy's app and the names of the plans that license it, for the messages that name them. */
export function appPlanNames(appId: string): readonly string[] {
  const app = knownAppOf(appId);
  return app && app !== "dataverse" ? APP_PLANS[app] : [];
}

/**
 * Whether a product, with these of its plans switched off, licenses the app (A2). A policy product
 * that does not would spend a license on each user without giving them the app.
 */
export function productLicensesApp(product: Product, disabledPlans: readonly string[], appId: string): boolean {
  const names = new Set(appPlanNames(appId));
  const off = new Set(disabledPlans.map((p) => p.toLowerCase()));
  return product.servicePlans.some((p) => names.has(p.servicePlanName.toUpperCase()) && !off.has(p.servicePlanId.toLowerCase()));
}

/**
 * Service plans that already give the user what a claim for this app and trigger would give, from
 * any product (A8: "a user without a standalone Power Apps license"; A9 likewise; the pipeline: "does
 * not already hold a license covering the app"): the app's plans above, and for the attended-RPA
 * variants of Power Automate only Premium's.
 */
const COVERING_PLANS: Partial<Record<KnownApp, (trigger: Trigger) => ReadonlySet<string>>> = {
  powerApps: () => new Set(APP_PLANS.powerApps),
  powerAutomate: (trigger) => new Set(RPA_TRIGGERS.has(trigger) ? ["POWER_AUTOMATE_ATTENDED_RPA"] : APP_PLANS.powerAutomate),
  powerBi: () => new Set(APP_PLANS.powerBi),
};

/**
 * Whether the user holds this product in a way known not to give the app for this trigger: the
 * catalog knows it as a product with a plan that would (A2), but the user's assignment has every
 * such plan switched off, or is not active. Unknown products, and products with no such plan,
 * are not (nothing is known against them).
 */
export function holdsWithoutApp(user: GraphUser, skuId: string, appId: string, trigger: Trigger, catalog: Catalog): boolean {
  const plans = coveringPlans(appId, trigger);
  const product = productIndex(catalog).get(skuId);
  if (!plans || !product?.servicePlans.some((p) => plans.has(p.servicePlanName.toUpperCase()))) return false;
  return !statesOf(user).some((s) => s.skuId.toLowerCase() === skuId.toLowerCase() && givesApp(s, product, plans));
}

function coveringPlans(appId: string, trigger: Trigger): ReadonlySet<string> | undefined {
  const app = knownAppOf(appId);
  return app ? COVERING_PLANS[app]?.(trigger) : undefined;
}

/** An assignment that is active and leaves one of the app's plans on. */
function givesApp(state: GraphLicenseState, product: Product, plans: ReadonlySet<string>): boolean {
  return isActive(state) && product.servicePlans.some((p) => plans.has(p.servicePlanName.toUpperCase()) && !state.disabledPlans.includes(p.servicePlanId));
}

/** The product the user holds (active, the covering plan enabled) that already covers the app for this trigger, if any. */
export function coveringProduct(user: GraphUser, appId: string, trigger: Trigger, catalog: Catalog): Product | undefined {
  const plans = coveringPlans(appId, trigger);
  if (!plans) return undefined;
  const products = productIndex(catalog);
  for (const state of statesOf(user)) {
    const product = products.get(state.skuId);
    if (product && givesApp(state, product, plans)) return product;
  }
  return undefined;
}
