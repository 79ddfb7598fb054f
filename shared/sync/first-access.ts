import type { InvocationContext } from "@azure/functions";
import { z } from "zod";
import { AppError } from "../errors/app-error.js";
import { registerEnvelopeHandler } from "../events/dispatch.js";
import { setFirstAccessResult } from "../events/event-store.js";
import { newEnvelope, type Envelope } from "../queue/envelope.js";
import type { QueueSender } from "../queue/transport.js";
import { getRuntime } from "../runtime.js";
import { getSyncDeps, type SyncDeps } from "./deps.js";
import { LICENSE_NOT_VISIBLE, syncOneUser, type OneUserResult } from "./one-user.js";
import { GUID_PATTERN } from "../ids.js";

/**
 * D4: a user's first access to an environment, as the sign-in pipeline reports it. The contract
 * between the two features: envelopes of kind `first-access` on the event queue, with this body.
 * The handler adds the user if eligible (on-demand rules) or re-enables a disabled record; in
 * Trial and Dataverse for Teams environments this is how users arrive (D5).
 */
export const FIRST_ACCESS_KIND = "first-access";
/** Who changes a user at its first access (D4), in the audit trail. */
const FIRST_ACCESS_ACTOR = { type: "system" as const, id: "first-access" };

export const firstAccessBodySchema = z.object({
  /** Entra object id of the user. */
  userId: z.string().regex(GUID_PATTERN, "an Entra object id (GUID)"),
  /** Power Platform environment id (as the admin API names it). */
  environmentId: z.string().min(1).max(100).regex(/^[A-Za-z0-9-]+$/, "an environment id"),
  occurredAt: z.iso.datetime({ offset: true }),
  /** The sign-in event that reported the first access: it shows what the sync did with it. */
  eventId: z.string().min(1).max(200).optional(),
  /**
   * Set by this handler (never by the producer) when it re-sends the event while automation is
   * paused: the id of the event's first envelope and how many wait rounds it has been through.
   */
  pausedWait: z.object({ originalId: z.string().min(1).max(200), round: z.number().int().min(1) }).optional(),
  /**
   * The product the event's auto-claim has just assigned (A/D4): the access is judged once Microsoft
   * Graph shows it on the user (its reads may lag its writes), waiting up to LICENSE_WAIT_ROUNDS rounds.
   */
  claimedSkuId: z.string().regex(GUID_PATTERN, "a SKU id (GUID)").optional(),
  /** Set by this handler: the id of the event's first envelope and the rounds waited for the claimed license to show. */
  licenseWait: z.object({ originalId: z.string().min(1).max(200), round: z.number().int().min(1) }).optional(),
});
export type FirstAccessBody = z.infer<typeof firstAccessBodySchema>;

/** D4's contract: the envelope that hands a sign-in event's first access to the sync (one id per event: a re-send is recognisable). */
export function firstAccessEnvelope(
  tenantId: string, event: { eventId: string; userId: string; environmentId: string; occurredAt: string }, claimedSkuId?: string,
): Envelope {
  const body: FirstAccessBody = {
    userId: event.userId, environmentId: event.environmentId, occurredAt: event.occurredAt, eventId: event.eventId, ...(claimedSkuId && { claimedSkuId }),
  };
  return newEnvelope({ kind: FIRST_ACCESS_KIND, tenantId, id: `${event.eventId}.first-access`.slice(0, 200), body });
}

/** How long an event waits before looking again while automation is paused (P11). */
export const PAUSED_RECHECK_SECONDS = 300;
/** How long, and how many times, a first access waits for the license its claim assigned to show in Graph. */
export const LICENSE_WAIT_SECONDS = 5;
export const LICENSE_WAIT_ROUNDS = 12;

export type FirstAccessOutcome =
  | { outcome: "applied"; result: OneUserResult }
  | { outcome: "waiting"; reason: string }
  | { outcome: "skipped"; reason: string };

/**
 * D4: handles the first access, and tells the sign-in event that reported it what became of it
 * (`report`; a failure to tell changes nothing of what was done).
 */
export async function handleFirstAccess(
  deps: SyncDeps, envelope: Envelope, requeue: QueueSender, report: (tenantId: string, eventId: string, outcome: FirstAccessOutcome) => Promise<void> = () => Promise.resolve(),
): Promise<FirstAccessOutcome> {
  const body = firstAccessBodySchema.parse(envelope.body);
  const outcome = await firstAccess(deps, envelope, body, requeue);
  if (body.eventId) await report(envelope.tenantId, body.eventId, outcome).catch(() => undefined);
  return outcome;
}

async function firstAccess(deps: SyncDeps, envelope: Envelope, body: FirstAccessBody, requeue: QueueSender): Promise<FirstAccessOutcome> {
  const tenantId = envelope.tenantId;
  if (await deps.isPaused(tenantId)) {
    // P11: the event waits (same attempt: waiting is not failing) and is applied once automation resumes.
    await requeue.send(pausedResend(envelope, body), { delaySeconds: PAUSED_RECHECK_SECONDS });
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
    // Queue work, not an admin waiting: background clients (D12: Graph gets x-ms-throttle-priority: low).
    // The license just claimed counts for this access: judged once Graph shows it (a bounded wait; then as Graph has it).
    const round = body.licenseWait?.round ?? 0;
    const expectLicenseSkuId = body.claimedSkuId && round < LICENSE_WAIT_ROUNDS ? body.claimedSkuId : undefined;
    const result = await syncOneUser(
      deps, tenantId, env, body.userId.toLowerCase(), "firstAccess", settings.value.defaultSecurityRoleIds, "background", FIRST_ACCESS_ACTOR, { expectLicenseSkuId },
    );
    if (result.outcome !== "unchanged") await record(deps, tenantId, body, "succeeded", result.outcome);
    return { outcome: "applied", result };
  } catch (err) {
    if (err instanceof AppError && err.code === LICENSE_NOT_VISIBLE) {
      await requeue.send(roundResend(envelope, body, "licenseWait"), { delaySeconds: LICENSE_WAIT_SECONDS });
      return { outcome: "waiting", reason: `the license its claim assigned (${body.claimedSkuId}) does not show on the user in Microsoft Graph yet` };
    }
    // A rule or the platform refuses: the event is done, with its reason (a retry would refuse again).
    if (err instanceof AppError && (err.kind === "businessRule" || err.kind === "conflict" || err.kind === "notFound")) return skip(err.message);
    throw err;
  }
}

/**
 * The envelope that carries a paused event into its next wait round. Each round needs its own id:
 * Service Bus derives the message id from it and drops an id it saw within its duplicate-detection
 * window, so re-sending the same id would lose the event. The id depends only on the message being
 * handled (original id + round count in the body), so a redelivery of one message re-sends the same
 * id and duplicate detection still collapses it.
 */
export function pausedResend(envelope: Envelope, body: FirstAccessBody): Envelope {
  return roundResend(envelope, body, "pausedWait");
}

function roundResend(envelope: Envelope, body: FirstAccessBody, wait: "pausedWait" | "licenseWait"): Envelope {
  const originalId = body[wait]?.originalId ?? envelope.id;
  const round = (body[wait]?.round ?? 0) + 1;
  const suffix = wait === "pausedWait" ? `.wait-${round}` : `.license-${round}`;
  // Cut the original id, never the suffix: two rounds must not collapse into one id.
  const id = `${originalId.slice(0, 200 - suffix.length)}${suffix}`;
  return { ...envelope, id, body: { ...body, [wait]: { originalId, round } } };
}

async function record(deps: SyncDeps, tenantId: string, body: FirstAccessBody, outcome: "succeeded" | "skipped", reason: string): Promise<void> {
  await deps.audit.append(tenantId, {
    actor: FIRST_ACCESS_ACTOR,
    action: "sync.first-access",
    target: { type: "user", id: body.userId.toLowerCase() },
    phase: "record",
    outcome,
    reason,
    // The sign-in event it came with, so the record can be told from another access's (E: the event in the audit trail).
    context: { environmentId: body.environmentId.toLowerCase(), occurredAt: body.occurredAt, eventId: body.eventId ?? null },
  });
}

let registered = false;

/** Registers the `first-access` handler with the event queue's dispatcher (once per process). */
export function registerFirstAccessHandler(): void {
  if (registered) return;
  registered = true;
  registerEnvelopeHandler(FIRST_ACCESS_KIND, async (envelope: Envelope, context: InvocationContext) => {
    const rt = await getRuntime();
    const report = (tenantId: string, eventId: string, outcome: FirstAccessOutcome) =>
      setFirstAccessResult(rt.container("events"), tenantId, eventId, {
        outcome: outcome.outcome,
        detail:
          outcome.outcome !== "applied"
            ? outcome.reason
            : outcome.result.drift
              ? `${outcome.result.outcome}; the platform refused: ${outcome.result.drift.platform.message}`
              : outcome.result.outcome,
        at: new Date().toISOString(),
      });
    const result = await handleFirstAccess(await getSyncDeps(), envelope, rt.eventQueue, report);
    context.log(JSON.stringify({ event: "first-access", tenantId: envelope.tenantId, outcome: result.outcome, ...("reason" in result && { reason: result.reason }) }));
  });
}
