import { app, type InvocationContext, type Timer } from "@azure/functions";
import { autoClaim } from "../shared/autoclaim/composition.js";
import { onboardedTenants } from "../shared/autoclaim/maintenance.js";
import { FREE_TRACKING_PLANS } from "../shared/autoclaim/tracking-plans.js";
import { getConfig } from "../shared/config/config.js";
import { pollSignIns } from "../shared/events/sign-in-log-poller.js";

/** E2: the sign-in log poller; does nothing unless SIGNIN_POLL_ENABLED=true. */
export async function handler(_timer: Timer, context: InvocationContext): Promise<void> {
  const ac = await autoClaim();
  if (!ac.runtime.config.SIGNIN_POLL_ENABLED) return;
  for (const tenantId of await onboardedTenants(ac.runtime.container("tenants"))) {
    const policies = await ac.policies.all(tenantId);
    if (policies.length === 0) continue;
    const apps = new Set([...policies.map((p) => p.appId), ...FREE_TRACKING_PLANS.map((f) => f.appId)]);
    try {
      const result = await pollSignIns(
        {
          ingest: { events: ac.events, caps: ac.caps, queue: ac.runtime.eventQueue },
          graph: (t) => ac.runtime.graph(t, "background"),
          state: ac.runtime.container("autoclaim"),
          now: () => new Date(),
        },
        tenantId,
        apps,
      );
      context.log(JSON.stringify({ event: "sign-in-log-poll", tenantId, ...result }));
    } catch (err) {
      context.warn(`sign-in log poll failed for tenant ${tenantId}`, err);
    }
  }
}

app.timer("sign-in-log-poll-timer", { schedule: getConfig().SIGNIN_POLL_SCHEDULE, handler });
