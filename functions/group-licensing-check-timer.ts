import { app, type InvocationContext, type Timer } from "@azure/functions";
import { getConfig } from "../shared/config/config.js";
import { licensing } from "../shared/licenses/composition.js";
import { checkGroupLicensingForAllTenants, groupLicensingCheckFor } from "../shared/licenses/group-licensing-check.js";

/** L18 + L20: group-based licensing errors raise an alert in tenants whose alerts are on (every 6 hours by default). */
export async function handler(_timer: Timer, context: InvocationContext): Promise<void> {
  const l = await licensing();
  await checkGroupLicensingForAllTenants(l.runtime.container("tenants"), groupLicensingCheckFor(l), (entry) => context.log(JSON.stringify(entry)));
}

app.timer("group-licensing-check-timer", { schedule: getConfig().GROUP_LICENSING_CHECK_SCHEDULE, handler });
