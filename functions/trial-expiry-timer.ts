import { app, type InvocationContext, type Timer } from "@azure/functions";
import { licensing, trialExpiryDeps } from "../shared/licenses/composition.js";
import { expireTrialsForAllTenants } from "../shared/licenses/trial-expiry.js";

/** L11: every night, trial licenses past their 90 days are removed (the use-case takes the clock). */
export async function handler(_timer: Timer, context: InvocationContext): Promise<void> {
  const l = await licensing();
  await expireTrialsForAllTenants(trialExpiryDeps(l), l.runtime.container("tenants"), new Date(), (entry) => context.log(JSON.stringify(entry)));
}

app.timer("trial-expiry-timer", { schedule: "0 0 3 * * *", handler });
