import { app, type InvocationContext, type Timer } from "@azure/functions";
import { autoClaim } from "../shared/autoclaim/composition.js";
import { activeTenantIds } from "../shared/tenants/tenant-registry.js";
import { getConfig } from "../shared/config/config.js";
import { pollAllTenants } from "../shared/events/sign-in-log-poller.js";

/** E2: the sign-in log poller; does nothing unless SIGNIN_POLL_ENABLED=true. */
export async function handler(_timer: Timer, context: InvocationContext): Promise<void> {
  const ac = await autoClaim();
  if (!ac.runtime.config.SIGNIN_POLL_ENABLED) return;
  const results = await pollAllTenants({
    ingest: { events: ac.events, caps: ac.caps, queue: ac.runtime.eventQueue },
    graph: (t) => ac.runtime.graph(t, "background"),
    state: ac.runtime.container("autoclaim"),
    now: () => new Date(),
    tenants: () => activeTenantIds(ac.runtime.container("tenants")),
    policyApps: async (tenantId) => (await ac.policies.all(tenantId)).map((p) => p.appId),
    log: (message, err) => context.warn(message, err),
  });
  for (const result of results) context.log(JSON.stringify({ event: "sign-in-log-poll", ...result }));
}

app.timer("sign-in-log-poll-timer", { schedule: getConfig().SIGNIN_POLL_SCHEDULE, handler });
