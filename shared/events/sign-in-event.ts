import { createHash } from "node:crypto";
import { z } from "zod";
import { objectIdSchema } from "../http/conventions.js";
import { triggerSchema } from "../autoclaim/triggers.js";

/**
 * A sign-in event, whichever source delivered it (E1 Entra extension, E2 sign-in log, E3 relay):
 * the documented schema relays post, what is stored in the `events` container, and the body of
 * the `sign-in-event` queue envelope.
 */
export const SIGN_IN_EVENT_KIND = "sign-in-event";

/** Safe in Cosmos ids and queue envelope ids (no / \ ? # |). */
export const eventIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, { message: "1-128 characters: letters, digits, '.', '_', ':' and '-', starting with a letter or digit" })
  .describe("The producer's id of the event: a replay with the same id and body gets the same answer, another body with it is 409");

/** E3: the body a relay posts (and what E1 and E2 produce). */
export const signInEventSchema = z
  .object({
    eventId: eventIdSchema,
    userId: objectIdSchema.transform((s) => s.toLowerCase()).describe("Entra object id of the user (a UPN is refused)"),
    appId: z.guid({ message: "must be the application (client) id, a GUID" }).transform((s) => s.toLowerCase()),
    trigger: triggerSchema,
    // null (what GET /sign-in-events/{id} shows for none) is the same as leaving it out.
    environmentId: z
      .union([
        z.string().regex(/^[A-Za-z0-9-]{1,100}$/, "must be a Power Platform environment id (a GUID, or Default-<tenant id> for the default environment)").transform((s) => s.toLowerCase()),
        z.null(),
      ])
      .transform((s) => s ?? undefined)
      .optional()
      .describe("The Dataverse environment the user accessed: the event is also handed to the Dataverse sync (D4); null or absent for none"),
    occurredAt: z.iso.datetime({ offset: true }).describe("When it happened; refused (422) when more than 24 hours old or in the future"),
  })
  .strict()
  .refine((e) => e.trigger !== "first-access" || e.environmentId !== undefined, {
    message: "a first-access event names its environment (environmentId)",
    path: ["environmentId"],
  });
export type SignInEvent = z.infer<typeof signInEventSchema>;

/**
 * E3: what a relay may post - the ids E1 and E2 make for their own events (`e1-…`, `e2-…`) are
 * theirs: a relay's event holding one would turn the product's own event into a 409.
 */
export const relayEventSchema = signInEventSchema.refine((e) => !/^e[12]-/i.test(e.eventId), {
  message: "ids starting with e1- or e2- are reserved for the events this product makes itself (Entra extension, sign-in log)",
  path: ["eventId"],
});

export const eventSourceSchema = z.enum(["E1", "E2", "E3"]).describe("E1 Entra custom authentication extension, E2 sign-in log, E3 relay");
export type EventSource = z.infer<typeof eventSourceSchema>;

export const eventStatusSchema = z
  .enum(["queued", "deferred", "waiting", "claimed", "skipped", "failed", "forwarded"])
  .describe(
    "queued: accepted, not processed yet (code retrying: an attempt failed, see reason, and it is tried again); deferred: its caller was over its daily cap, processed the next day; waiting: automation is paused (P11); " +
      "claimed: a license was claimed; skipped: nothing to claim (see reason); failed: could not be served (see reason); forwarded: handed to the Dataverse sync only",
  );
export type EventStatus = z.infer<typeof eventStatusSchema>;

export const callerSchema = z.object({
  /** The relay's application id, "entra" (E1) or "sign-in-log" (E2): the daily cap is per caller. */
  id: z.string(),
  kind: z.enum(["relay", "entra", "sign-in-log"]),
  objectId: z.string().optional(),
});
export type Caller = z.infer<typeof callerSchema>;

/** The `sign-in-event` envelope body. */
export const signInEnvelopeBodySchema = z.object({
  event: signInEventSchema,
  source: eventSourceSchema,
  caller: callerSchema,
  receivedAt: z.string(),
  /** Set while the event waits for its caller's next day (cap) or for automation to resume. */
  deferredDay: z.string().optional(),
  /** The UTC day whose cap unit the event holds, when not the day it was received (a deferred event takes one on a later day). */
  capDay: z.string().optional(),
  waitingSince: z.string().optional(),
  /** The event was already handed to the Dataverse sync (first access), on an earlier delivery. */
  forwarded: z.boolean().optional(),
});
export type SignInEnvelopeBody = z.infer<typeof signInEnvelopeBodySchema>;

/** What became of a claim: shown by GET /sign-in-events/{id} and the report. */
export const eventClaimSchema = z.object({ policyId: z.string(), policyName: z.string(), skuId: z.string(), skuPartNumber: z.string().nullable() });

/** L12: the free tracking plan of the app's product, assigned at sign-in whatever A1 says. */
export const trackingPlanOutcomeSchema = z.object({
  skuId: z.string(),
  outcome: z.enum(["assigned", "re-enabled", "present", "failed"]),
  /** Why it failed: the license error's code (e.g. usage-location-missing). */
  code: z.string().optional(),
  reason: z.string().optional(),
});

/** D4: what the Dataverse sync did with a first access the event reported (set by the sync, after "forwarded"). */
export const firstAccessResultSchema = z.object({
  outcome: z.enum(["applied", "skipped", "waiting"]),
  /** applied: what changed (added, reEnabled, updated, unchanged, disabled); skipped or waiting: why. */
  detail: z.string(),
  at: z.string(),
});

/** The stored event (container `events`, partition key `tenantId|eventId`). */
export const eventDocumentSchema = z.object({
  id: z.string(),
  partitionKey: z.string(),
  type: z.literal("sign-in-event"),
  tenantId: z.string(),
  event: signInEventSchema,
  bodyHash: z.string(),
  source: eventSourceSchema,
  caller: callerSchema,
  receivedAt: z.string(),
  status: eventStatusSchema,
  code: z.string().nullish(),
  reason: z.string().nullish(),
  claim: eventClaimSchema.nullish(),
  trackingPlan: trackingPlanOutcomeSchema.nullish(),
  firstAccess: z.literal("forwarded").nullish(),
  firstAccessResult: firstAccessResultSchema.nullish(),
  /** The status code of the first answer to the producer (202, or 429 when deferred by the cap). */
  answer: z.union([z.literal(202), z.literal(429)]),
  updatedAt: z.string(),
  processedAt: z.string().nullish(),
});
export type EventDocument = z.infer<typeof eventDocumentSchema>;

/** SHA-256 of the canonical body: a replay is "the same body" when this matches. */
export function bodyHashOf(event: SignInEvent): string {
  // The same instant is the same body however it is written ("…10Z", "…10.000Z", "…10+00:00").
  const values: Record<string, unknown> = { ...event, occurredAt: new Date(event.occurredAt).toISOString() };
  // A member left out and one sent as undefined (null, for environmentId) are the same: stored documents keep neither.
  const canonical = JSON.stringify(Object.keys(values).filter((k) => values[k] !== undefined).sort().map((k) => [k, values[k]]));
  return createHash("sha256").update(canonical).digest("hex");
}

export const eventViewSchema = z.object({
  id: z.string(),
  status: eventStatusSchema,
  code: z.string().nullable(),
  reason: z.string().nullable(),
  source: eventSourceSchema,
  caller: z.string(),
  userId: z.string(),
  appId: z.string(),
  trigger: triggerSchema,
  environmentId: z.string().nullable(),
  occurredAt: z.string(),
  receivedAt: z.string(),
  processedAt: z.string().nullable(),
  claim: eventClaimSchema.nullable(),
  trackingPlan: trackingPlanOutcomeSchema.nullable(),
  firstAccess: z.enum(["forwarded"]).nullable(),
  firstAccessResult: firstAccessResultSchema.nullable().describe("D4: what the Dataverse sync did with the first access (null until it has handled it)"),
});
export type EventView = z.infer<typeof eventViewSchema>;

export function toEventView(doc: EventDocument): EventView {
  return {
    id: doc.event.eventId,
    status: doc.status,
    code: doc.code ?? null,
    reason: doc.reason ?? null,
    source: doc.source,
    caller: doc.caller.id,
    userId: doc.event.userId,
    appId: doc.event.appId,
    trigger: doc.event.trigger,
    environmentId: doc.event.environmentId ?? null,
    occurredAt: doc.event.occurredAt,
    receivedAt: doc.receivedAt,
    processedAt: doc.processedAt ?? null,
    claim: doc.claim ?? null,
    trackingPlan: doc.trackingPlan ?? null,
    firstAccess: doc.firstAccess ?? null,
    firstAccessResult: doc.firstAccessResult ?? null,
  };
}
