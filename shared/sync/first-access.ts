import type { InvocationContext } from "@azure/functions";
import { z } from "zod";
import { AppError } from "../errors/app-error.js";
import { registerEnvelopeHandler } from "../events/dispatch.js";
import type { Envelope } from "../queue/envelope.js";
import type { QueueSender } from "../queue/transport.js";
import { getRuntime } from "../runtime.js";
import { getSyncDeps, type SyncDeps } from "./deps.js";
import { syncOneUser, type OneUserResult } from "./one-user.js";

/**
 * D4: a user's first access to an environment, as the sign-in pipeline reports it. The contract
 * between the two features: envelopes of kind `first-access` on the event queue, with this body.
 * The handler adds the user if eligible (on-demand rules) or re-enables a disabled record; in
 * Trial and Dataverse for Teams environments this is how users arrive (D5).
 */
export const FIRST_ACCESS_KIND = "first-access";

export const firstAccessBodySchema = z.object({
  /** Entra object id of the user. */
  userId: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, "an Entra object id (GUID)"),
  /** Power Platform environment id (as the admin API names it). */
  environmentId: z.string().min(1).max(100).regex(/^[A-Za-z0-9-]+$/, "an environment id"),
  occurredAt: z.iso.datetime({ offset: true }),
});
export type FirstAccessBody = z.infer<typeof firstAccessBodySchema>;

/** How long an event waits before looking again while automation is paused (P11). */
export const PAUSED_RECHECK_SECONDS = 300;

export type FirstAccessOutcome =
  | { outcome: "applied"; result: OneUserResult }
  | { outcome: "waiting"; reason: string }
  | { outcome: "skipped"; reason: string };

export async function handleFirstAccess(deps: SyncDeps, envelope: Envelope, requeue: QueueSender): Promise<FirstAccessOutcome> {
  const body = firstAccessBodySchema.parse(envelope.body);
  const tenantId = envelope.tenantId;
  if (await deps.isPaused(tenantId)) {
    // P11: the event waits (same attempt: waiting is not failing) and is applied once automation resumes.
    await requeue.send({ ...envelope }, { delaySeconds: PAUSED_RECHECK_SECONDS });
    return { outcome: "waiting", reason: "automation is paused (P11)" };
  }
  const environmentId = body.environmentId.toLowerCase();
  const [settings, env] = await Promise.all([deps.settings.get(tenantId, environmentId), deps.platform(tenantId, "background").getEnvironment(environmentId)]);
  const skip = async (reason: string): Promise<FirstAccessOutcome> => {
    await record(deps, tenantId, body, "skipped", reason);
    return { outcome: "skipped", reason };
  };
  if (!env) return skip("the environment does not exist");
  if (!settings.value.syncEnabled) return skip("this product does not manage the environment (sync is off)");
  try {
    const result = await syncOneUser(deps, tenantId, env, body.userId.toLowerCase(), "add", settings.value.defaultSecurityRoleIds);
    if (result.outcome !== "unchanged") await record(deps, tenantId, body, "succeeded", result.outcome);
    return { outcome: "applied", result };
  } catch (err) {
    // A rule or the platform refuses: the event is done, with its reason (a retry would refuse again).
    if (err instanceof AppError && (err.kind === "businessRule" || err.kind === "conflict")) return skip(err.message);
    throw err;
  }
}

async function record(deps: SyncDeps, tenantId: string, body: FirstAccessBody, outcome: "succeeded" | "skipped", reason: string): Promise<void> {
  await deps.audit.append(tenantId, {
    actor: { type: "system", id: "first-access" },
    action: "sync.first-access",
    target: { type: "user", id: body.userId.toLowerCase() },
    phase: "record",
    outcome,
    reason,
    context: { environmentId: body.environmentId.toLowerCase(), occurredAt: body.occurredAt },
  });
}

let registered = false;

/** Registers the `first-access` handler with the event queue's dispatcher (once per process). */
export function registerFirstAccessHandler(): void {
  if (registered) return;
  registered = true;
  registerEnvelopeHandler(FIRST_ACCESS_KIND, async (envelope: Envelope, context: InvocationContext) => {
    const rt = await getRuntime();
    const result = await handleFirstAccess(await getSyncDeps(), envelope, rt.eventQueue);
    context.log(JSON.stringify({ event: "first-access", tenantId: envelope.tenantId, outcome: result.outcome, ...("reason" in result && { reason: result.reason }) }));
  });
}
