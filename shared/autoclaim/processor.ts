import { isPolicyApp, POLICY_APPS } from "./apps.js";
import type { LicensingFailureInput } from "../alerts/alerts.js";
import type { AuditEntry } from "../audit/audit-log.js";
import { AppError } from "../errors/app-error.js";
import type { CatalogService } from "../licenses/catalog.js";
import { OUTCOME_UNKNOWN, type LicenseAssignments } from "../licenses/assign.js";
import type { Catalog, Product } from "../licenses/model.js";
import { productOfApp } from "../licenses/usage.js";
import type { CallerCaps } from "../events/caller-cap.js";
import { secondsUntilNextDay, utcDay } from "../events/caller-cap.js";
import type { EventOutcome, EventStore } from "../events/event-store.js";
import { signInEnvelopeBodySchema, type SignInEnvelopeBody } from "../events/sign-in-event.js";
import type { Envelope } from "../queue/envelope.js";
import type { QueueSender } from "../queue/transport.js";
import type { Stored } from "../storage/repository.js";
import { claimId, type ClaimDocument, type ClaimStore } from "./claims.js";
import { retryableUpstream } from "../clients/upstream-body.js";
import { AUTO_CLAIM_ACTOR, certainlyNotAssigned, type ClaimAssigner, type UserReader } from "./license-access.js";
import { auditActorOf } from "../licenses/actor.js";
import type { PolicyDocument } from "./policy.js";
import type { PolicyStore } from "./policy-store.js";
import type { Reservation, Reservations } from "./reservations.js";
import type { KeyedQueue } from "../concurrency/keyed-queue.js";
import { ensureTrackingPlan, trackingProductFor, type TrackingOutcome } from "./tracking-plans.js";
import { appPlanNames, coveringProduct, holdsWithoutApp, isFirstAccessTrigger, productQualifies, triggerQualifies } from "./triggers.js";

/**
 * The claim processor (A1, A3, A5, A10, A11, L12, P11) for one `sign-in-event` envelope:
 *
 *   automation paused?  -> the event waits (re-queued with a delay) and is processed after resume
 *   free tracking plan for the app?  -> assigned / re-enabled whatever A1 says (L12)
 *   feature on? policy for the app, enabled? trigger qualifies (RPA only for Premium)?
 *   user a member, enabled, without a license of the policy's products?
 *   -> reserve a unit of the first product (in order) with one available, create the pending
 *      claim (one per user and app: a duplicate event meets it and assigns nothing), assign with
 *      that product's disabled plans, mark the claim claimed. Graph "no licenses left": the next
 *      backup (a product our counters alone found empty is first brought in line with Graph).
 *      Nothing anywhere: the event fails "no license available" (not retried).
 *
 * Outages (Graph past its retry budget, Cosmos) throw a transient error: the queue helper re-enqueues
 * the message with a delay; at the last attempt the event is marked failed first, so it shows.
 * A10: a claim acts on a recent decision - the retry checks the switch and the policy again, and a
 * claim its earlier attempt kept is given back (or found assigned) when they say no now; a claim
 * that fails for good gives its unit back at once.
 */
export interface ProcessorDeps {
  events: EventStore;
  claims: ClaimStore;
  reservations: Reservations;
  policies: PolicyStore;
  catalog: CatalogService;
  users: UserReader;
  assigner: ClaimAssigner;
  assignments(): Promise<LicenseAssignments>;
  queue: QueueSender;
  caps: CallerCaps;
  isPaused(tenantId: string): Promise<boolean>;
  isAutoClaimEnabled(tenantId: string): Promise<boolean>;
  /** Hands a first-access event to the Dataverse sync (D4). */
  forwardFirstAccess(tenantId: string, body: SignInEnvelopeBody, claimedSkuId?: string): Promise<void>;
  /** Records that the user used the app's product (L13, L19, A13). */
  recordUse(tenantId: string, userId: string, appId: string, at: Date): Promise<void>;
  /** L18: a failed claim raises a licensing-failure alert (never throws; deduplicated by the alert service). */
  reportFailure(input: LicensingFailureInput): Promise<void>;
  /** The tenant's audit trail (E: a failed event and its caller are recorded there; claims are, with their license change). */
  audit: { append(tenantId: string, entry: AuditEntry): Promise<unknown> };
  /** Serialises the events of one user and app within this process. */
  perClaim: KeyedQueue;
  pauseRecheckSeconds: number;
  reservationExpiryMinutes: number;
  maxAttempts: number;
  now(): Date;
}

export type ProcessResult =
  | { kind: "done"; outcome: EventOutcome }
  | { kind: "rescheduled"; reason: "paused" | "daily-cap"; delaySeconds: number }
  /** A redelivery of an event whose claim is already done or in progress: nothing to write. */
  | { kind: "duplicate" };

type ClaimResult =
  | { kind: "replan" }
  | { kind: "claimed"; claim: ClaimDocument; product: Product | undefined; finalize: () => Promise<void> }
  | { kind: "skipped"; code: string; reason: string }
  | { kind: "failed"; code: string; reason: string; skuId?: string }
  | { kind: "duplicate" };

type Body = SignInEnvelopeBody;

/**
 * How this message was delivered: the transport's delivery count (storage queue `dequeueCount`,
 * Service Bus `deliveryCount`), when the trigger reported it.
 */
export interface Delivery {
  count?: number;
}

/**
 * Whether an earlier delivery of this event may have begun its claim: a transport redelivery (the
 * handler threw, or the worker died holding the message), our own retry of a transient failure, a
 * re-sent envelope (paused, deferred, re-queued by maintenance), or a delivery count unknown.
 */
export function mayFollowEarlierAttempt(envelope: Envelope, body: Body, delivery: Delivery): boolean {
  return envelope.attempt > 1 || envelope.id !== body.event.eventId || delivery.count === undefined || delivery.count > 1;
}

export async function processSignInEvent(deps: ProcessorDeps, envelope: Envelope, delivery: Delivery = {}): Promise<ProcessResult> {
  const body: Body = signInEnvelopeBodySchema.parse(envelope.body);
  const tenantId = envelope.tenantId;
  const now = deps.now();

  if (body.deferredDay !== undefined) {
    const rescheduled = await takeDeferredCap(deps, envelope, body, now);
    if (rescheduled) return rescheduled;
    delete body.deferredDay;
    body.capDay = utcDay(now);
  }

  // D4: the first access an event reports goes to the Dataverse sync - after the event's claim when
  // it has one to make: the license claimed now counts for that access (forwarded before the claim,
  // the sync judged the user without it, and the user waited for the next run).
  const reportsFirstAccess = body.event.environmentId !== undefined || isFirstAccessTrigger(body.event.trigger);
  let firstAccess: EventOutcome["firstAccess"] = body.forwarded ? "forwarded" : undefined;
  const forward = async (claimedSkuId?: string) => {
    if (!reportsFirstAccess) return;
    if (!body.forwarded) await deps.forwardFirstAccess(tenantId, body, claimedSkuId);
    body.forwarded = true;
    firstAccess = "forwarded";
  };
  if (isFirstAccessTrigger(body.event.trigger)) await forward();

  if (await deps.isPaused(tenantId)) {
    if (!body.waitingSince) {
      await deps.events.setOutcome(
        tenantId,
        body.event.eventId,
        { status: "waiting", code: "automation-paused", reason: "automatic changes are paused (P11); the event is processed when they resume", firstAccess },
        { processed: false },
      );
    }
    const waitingSince = body.waitingSince ?? now.toISOString();
    const attempt = Math.floor((now.getTime() - Date.parse(waitingSince)) / 1000 / deps.pauseRecheckSeconds) + 1;
    await resend(deps, envelope, { ...body, waitingSince }, `${body.event.eventId}.wait-${attempt}`, deps.pauseRecheckSeconds);
    return { kind: "rescheduled", reason: "paused", delaySeconds: deps.pauseRecheckSeconds };
  }

  const key = `${tenantId}|${body.event.userId}|${body.event.appId}`;
  const attempt: AttemptState = { assignAnswerUnknown: false };
  try {
    const retried = mayFollowEarlierAttempt(envelope, body, delivery);
    // Our own retry of a transient failure, sent once the earlier attempt had finished: a pending
    // claim of this event is that attempt's, kept because Graph's answer was not known - resume it.
    const resume = envelope.attempt > 1;
    const decided = await deps.perClaim.run(key, () => decide(deps, tenantId, body, deps.now(), retried, resume, attempt));
    if (decided === "duplicate") return { kind: "duplicate" };
    const { finalize, failedSkuId, ...outcome } = decided;
    // Best effort: the claim is made whatever the queue says (a failure leaves firstAccess unset;
    // the sync's next run judges the user anyway).
    await forward(outcome.status === "claimed" ? outcome.claim?.skuId : undefined).catch(() => undefined);
    const full = { ...outcome, ...(firstAccess ? { firstAccess } : {}) };
    // The daily cap counts claims: an event that claims nothing gives its unit back (before its
    // outcome shows, so a caller who reads it can count on the unit).
    if (full.status !== "claimed") {
      await deps.caps.giveBack(tenantId, body.caller.id, body.capDay ?? utcDay(new Date(body.receivedAt))).catch(() => undefined);
    }
    await Promise.all([
      finalize?.(),
      deps.events.setOutcome(tenantId, body.event.eventId, full),
      full.status === "failed" ? alertFailure(deps, tenantId, body, full, failedSkuId) : undefined,
    ]);
    return { kind: "done", outcome: full };
  } catch (caught) {
    const err = retryableUpstream(caught);
    // A11: what the queue helper records (the failure store) or leaves to the host's retries (a
    // bug) shows on the event too, so the event and the report say why it was not served.
    const failed = failureOutcome(err, envelope.attempt, deps.maxAttempts);
    if (failed) {
      // A10/A11: the event is over (its last attempt gave up, or it failed for good; a bug is left to
      // the host's redelivery). A claim an earlier attempt kept is not left holding its unit until
      // the reservation expires - other users' claims would find no license meanwhile: Graph says
      // whether it happened (claimed after all), otherwise its unit is given back now. Unless an
      // assignLicense of it got no answer less than SETTLE_AFTER_MS ago (this attempt's, or noted
      // on the claim): then it is settled against Graph by maintenance once that has passed.
      const withdrawn =
        failed.code === "internal-error"
          ? undefined
          : await deps.perClaim.run(key, () => withdrawKeptClaim(deps, tenantId, body.event, { answerLostNow: attempt.assignAnswerUnknown })).catch(() => undefined);
      if (withdrawn?.happened) {
        const { finalize, ...claimed } = claimedBy(deps, withdrawn.kept, await deps.catalog.get(tenantId).catch(() => undefined));
        await forward(withdrawn.kept.skuId).catch(() => undefined);
        const full = { ...claimed, ...(firstAccess ? { firstAccess } : {}) };
        await Promise.all([finalize?.(), deps.events.setOutcome(tenantId, body.event.eventId, full)]);
        return { kind: "done", outcome: full };
      }
      const reason = withdrawn?.settling ? `${failed.reason}; ${SETTLING}` : failed.reason;
      // The access happened whatever became of the claim: the sync judges it (a bug's redelivery may send it again).
      await forward().catch(() => undefined);
      const outcome: EventOutcome = { ...failed, reason, ...(firstAccess ? { firstAccess } : {}) };
      await Promise.all([
        deps.events.setOutcome(tenantId, body.event.eventId, outcome).catch(() => undefined),
        failed.code === "internal-error" ? undefined : alertFailure(deps, tenantId, body, outcome),
      ]);
    } else if (isTransient(err)) {
      // A11: tried again later by the queue - the event says so, and why, meanwhile (it showed
      // "queued" with no reason for minutes). Not processed yet: the report does not count it.
      // An unconfirmed assignment is the pipeline's to settle (the next attempt checks Graph first): not the admin advice its message gives an API caller.
      const why = err instanceof AppError && err.code === OUTCOME_UNKNOWN
        ? "Microsoft Graph did not confirm the assignment: the next attempt checks whether it was made before assigning again"
        : err instanceof Error ? err.message : String(err);
      const reason = `attempt ${envelope.attempt} of ${deps.maxAttempts} failed (${why}); it is tried again`;
      await deps.events.setOutcome(tenantId, body.event.eventId, { status: "queued", code: "retrying", reason }, { processed: false }).catch(() => undefined);
    }
    throw err;
  }
}

/**
 * The event's outcome when processing throws: a transient failure at its last attempt gave up; any
 * other AppError is permanent (the failure store keeps the message); an unexpected error is retried
 * by the host and kept in its poison queue after the last delivery - the event says so meanwhile
 * (a later delivery that succeeds replaces it). A transient failure before its last attempt: none.
 */
function failureOutcome(err: unknown, attempt: number, maxAttempts: number): (EventOutcome & { status: "failed"; code: string }) | undefined {
  const message = err instanceof Error ? err.message : String(err);
  if (isTransient(err)) return attempt >= maxAttempts ? { status: "failed", code: "gave-up", reason: `gave up after ${attempt} attempts: ${message}` } : undefined;
  if (err instanceof AppError) return { status: "failed", code: err.code, reason: message };
  return { status: "failed", code: "internal-error", reason: `processing failed unexpectedly (retried by the host, then kept in its poison queue): ${message}` };
}

/**
 * What became of the event, and (for a claim) the claim's last write, done together with the event's;
 * for a failure, the product it concerned (for the alert).
 */
type Decided = EventOutcome & { finalize?: () => Promise<void>; failedSkuId?: string | undefined };

/**
 * L18 b and E: a claim that failed (no license anywhere, refused by Graph, gave up) is a licensing
 * failure: it raises its alert and is recorded in the audit trail with its caller (a
 * claim is recorded with its license change; a skipped event changed nothing and stays in the event
 * store and the report). Best effort both: the event's outcome is stored whatever they do.
 */
async function alertFailure(deps: ProcessorDeps, tenantId: string, body: Body, outcome: EventOutcome, skuId?: string): Promise<void> {
  const ev = body.event;
  // The product by name, as license administration's alerts name it (the catalog is cached; unnamed if it cannot be read).
  const known = skuId ? await deps.catalog.get(tenantId).then((c) => c.products.find((p) => p.skuId === skuId), () => undefined) : undefined;
  await Promise.all([
    deps.reportFailure({
      tenantId,
      source: "auto-claim",
      code: outcome.code ?? "failed",
      message: `sign-in event ${ev.eventId} for app ${ev.appId}: ${outcome.reason ?? "failed"}`,
      product: skuId ? { skuId, skuPartNumber: known?.skuPartNumber ?? null, displayName: known?.displayName ?? null } : null,
      userIds: [ev.userId],
    }),
    Promise.resolve()
      .then(() =>
        deps.audit.append(tenantId, {
          actor: auditActorOf(AUTO_CLAIM_ACTOR),
          action: "sign-in-event.failed",
          target: { type: "user", id: ev.userId },
          phase: "record",
          outcome: "failed",
          reason: `${outcome.code ?? "failed"}: ${outcome.reason ?? ""}`,
          context: { eventId: ev.eventId, source: body.source, caller: body.caller.id, appId: ev.appId, trigger: ev.trigger, ...(skuId && { skuId }) },
        }),
      )
      .catch(() => undefined),
  ]);
}

/** What one attempt learnt on its way that its failure handling needs. */
interface AttemptState {
  /** Its assignLicense failed without saying whether Graph assigned (a timeout, a 5xx other than 503, a lost connection). */
  assignAnswerUnknown: boolean;
}

async function decide(
  deps: ProcessorDeps, tenantId: string, body: Body, now: Date, retried: boolean, resume: boolean, attempt: AttemptState,
): Promise<Decided | "duplicate"> {
  const ev = body.event;
  const decidedAt = deps.now().getTime();
  const autoClaimOn = await deps.isAutoClaimEnabled(tenantId);
  const policy = autoClaimOn ? await deps.policies.forApp(tenantId, ev.appId) : undefined;
  const catalog = await deps.catalog.get(tenantId);
  const tracking = trackingProductFor(ev.appId, catalog);
  const plan = claimPlan(autoClaimOn, policy, ev.trigger, ev.appId, catalog);
  // A10: our retry of a claim whose Graph answer was not known, and the policy or the switch says
  // no now, or (A4) the policy no longer has the product of the claim: the claim is not made -
  // unless Graph shows it was (then it is claimed, or, its answer lost moments ago, it is settled
  // against Graph by maintenance: meanwhile no other product is claimed).
  // Kept: a claim on a product of the policy as it was when the claim began. A policy edited since
  // (a product removed, the order changed) is followed: the claim starts again on it.
  const keep = "skip" in plan
    ? undefined
    : (kept: ClaimDocument) => plan.products.some((p) => sameSku(p.skuId, kept.skuId)) && !(Date.parse(plan.policy.updatedAt) > Date.parse(kept.createdAt));
  const withdrawn = resume ? await withdrawKeptClaim(deps, tenantId, ev, { keep }) : undefined;
  if (withdrawn?.happened) return claimedBy(deps, withdrawn.kept, catalog);
  if (withdrawn?.settling && !("skip" in plan)) {
    return { status: "skipped", code: "claim-in-progress", reason: `the claim begun for this event on ${withdrawn.kept.skuId}, before the policy's products were edited: ${SETTLING}` };
  }
  const notClaiming = (extra: Partial<Decided> = {}): Decided | undefined =>
    "skip" in plan
      ? ev.trigger === "first-access"
        ? { status: "forwarded", code: null, reason: "handed to the Dataverse sync", ...extra }
        : { status: "skipped", ...plan.skip, ...(withdrawn ? { reason: `${plan.skip.reason}; ${withdrawnText(withdrawn)}` } : {}), ...extra }
      : undefined;
  // A sign-in that claims nothing is still a use of the app (L13, L19; A13 reclaims on it) when
  // the app is one whose use is recorded, whatever A1, the policy or the trigger say.
  if ("skip" in plan && !tracking && !productOfApp(ev.appId)) return notClaiming()!;

  const user = await deps.users.read(tenantId, ev.userId);
  if (!user) return { status: "skipped", code: "user-not-found", reason: "Microsoft Entra ID does not know this user (or the user is deleted)" };
  if ((user.userType ?? "Member").toLowerCase() === "guest") return { status: "skipped", code: "guest-user", reason: "guest users never claim a license" };
  if (user.accountEnabled === false) return { status: "skipped", code: "account-disabled", reason: "disabled accounts never claim a license" };
  await deps.recordUse(tenantId, ev.userId, ev.appId, new Date(ev.occurredAt));

  let trackingPlan: TrackingOutcome | undefined;
  if (tracking) {
    trackingPlan = await ensureTrackingPlan(await deps.assignments(), tenantId, user, tracking, { eventId: ev.eventId, caller: body.caller.id, source: body.source });
  }
  const withTracking = trackingPlan ? { trackingPlan } : {};
  if ("skip" in plan) return notClaiming(withTracking)!;

  const held = new Set(user.assignedLicenses.map((l) => l.skuId));
  const heldOfPolicy = plan.products.filter((p) => held.has(p.skuId));
  if (heldOfPolicy.length) {
    // Only a delivery that may follow an earlier attempt can find its own claim (one point read).
    const settled = retried ? await settleOwnClaim(deps, tenantId, ev, held, catalog) : undefined;
    if (settled) return { ...settled, ...withTracking };
  }
  // A product of the policy the user holds without the app (its plan switched off, or not active)
  // is no license for it, and cannot be claimed again: the others can. None left: an admin's
  // choice stands in the way.
  const blocked = heldOfPolicy.filter((p) => holdsWithoutApp(user, p.skuId, ev.appId, ev.trigger, catalog));
  const covering = heldOfPolicy.find((p) => !blocked.includes(p));
  if (covering) {
    return { status: "skipped", code: "already-licensed", reason: `the user already holds ${productName(catalog, covering.skuId)}, a product of the policy`, ...withTracking };
  }
  const elsewhere = coveringProduct(user, ev.appId, ev.trigger, catalog);
  if (elsewhere) {
    return { status: "skipped", code: "already-licensed", reason: `the user already holds ${productName(catalog, elsewhere.skuId)}, which covers this app`, ...withTracking };
  }
  const claimable = plan.products.filter((p) => !held.has(p.skuId));
  if (!claimable.length) {
    const blocking = blocked[0]!;
    return {
      status: "failed",
      code: "app-plan-disabled",
      reason: `the user holds ${productName(catalog, blocking.skuId)} without the plan that gives this app (${appPlanNames(ev.appId).join(" or ")} switched off for them, or the license not active), and the policy has no other product to claim; turn the plan on for the user (POST /users/{userId}/assignLicense) or add a backup product to the policy`,
      failedSkuId: blocking.skuId,
      ...withTracking,
    };
  }
  if (!user.usageLocation) {
    return { status: "failed", code: "usage-location-missing", reason: "the user has no usage location, which a license needs (L8)", failedSkuId: claimable[0]?.skuId, ...withTracking };
  }

  const result = await claim(deps, { tenantId, body, policy: plan.policy, planned: plan.products, products: claimable, catalog, now, resume, decidedAt, attempt });
  switch (result.kind) {
    case "duplicate":
      return "duplicate";
    case "replan":
      // A4: the policy's products changed on the way - decided again on the policy as it is now
      // (the user's licenses checked against its products, a kept claim on a removed one withdrawn).
      return decide(deps, tenantId, body, deps.now(), retried, resume, attempt);
    case "claimed":
      return {
        finalize: result.finalize,
        status: "claimed",
        code: null,
        reason: null,
        claim: { policyId: plan.policy.id, policyName: plan.policy.name, skuId: result.claim.skuId, skuPartNumber: result.product?.skuPartNumber ?? null },
        ...withTracking,
      };
    case "skipped":
      return { status: "skipped", code: result.code, reason: result.reason, ...withTracking };
    case "failed":
      return { status: "failed", code: result.code, reason: result.reason, failedSkuId: result.skuId, ...withTracking };
  }
}

/**
 * A redelivery of an event whose earlier delivery got the license from Graph but failed before it
 * recorded that (a Cosmos write failed, the worker died): the user holds the product of this event's
 * own claim. The event is claimed - not "already licensed" - and its claim is settled.
 */
async function settleOwnClaim(
  deps: ProcessorDeps, tenantId: string, ev: Body["event"], held: ReadonlySet<string>, catalog: Catalog,
): Promise<Decided | undefined> {
  const own = await ownClaim(deps, tenantId, ev);
  if (!own || own.status === "reclaimed" || !held.has(own.skuId)) return undefined;
  return claimedBy(deps, own, catalog);
}

/** The claim of the event's user and app, when it is this event's own (made by an earlier attempt or delivery of it). */
async function ownClaim(deps: ProcessorDeps, tenantId: string, ev: Body["event"]): Promise<Stored<ClaimDocument> | undefined> {
  const claim = await deps.claims.get(tenantId, ev.appId, ev.userId);
  return claim?.eventId === ev.eventId ? claim : undefined;
}

/** How a reason names a product: its part number and id (the id alone when the catalog does not know it). */
function productName(catalog: Catalog, skuId: string): string {
  const partNumber = catalog.products.find((p) => p.skuId === skuId)?.skuPartNumber;
  return partNumber ? `${partNumber} (${skuId})` : skuId;
}

/** The event's outcome when its own claim turns out done: claimed (a pending claim is marked so with the outcome). */

function claimedBy(deps: ProcessorDeps, own: ClaimDocument, catalog: Catalog | undefined): Decided {
  return {
    ...(own.status === "pending" ? { finalize: () => deps.claims.markClaimed(own, deps.now()) } : {}),
    status: "claimed",
    code: null,
    reason: null,
    claim: { policyId: own.policyId, policyName: own.policyName, skuId: own.skuId, skuPartNumber: catalog?.products.find((p) => p.skuId === own.skuId)?.skuPartNumber ?? null },
  };
}

const WITHDRAWN = "the claim begun for this event was not made, and its reserved license was given back";

const withdrawnText = (w: Withdrawn) => (w.settling ? SETTLING : WITHDRAWN);

/**
 * The claim this event's earlier attempt kept, and whether Graph shows it happened (else it was
 * given back); `settling`: an assignLicense of it got no answer moments ago - maintenance settles it.
 */
interface Withdrawn {
  kept: Stored<ClaimDocument>;
  happened: boolean;
  settling?: true;
}

const sameSku = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * A10/A11: this event's pending claim, kept with its unit by an earlier attempt whose Graph answer
 * was not known, is not to go on (the policy or the switch says no now, or the event failed for
 * good). Graph says what happened: the user holds its product - the claim happened (the caller
 * marks it claimed); otherwise it is removed and its unit given back at once (Graph refuses
 * over-assignment, so a unit given back cannot over-assign). But Graph's reads lag its writes: when
 * an assignLicense of the claim got no answer less than SETTLE_AFTER_MS ago (`answerLostNow`: this
 * attempt's; else as noted on the claim), Graph is not read yet - the claim's expiry is brought
 * forward to then and maintenance settles it (`settling`). Undefined when there is no such claim
 * (or `keep` keeps it). When Graph or Cosmos cannot answer, this throws and the claim stays, for
 * the event's next attempt or for maintenance when it expires.
 */
async function withdrawKeptClaim(
  deps: ProcessorDeps, tenantId: string, ev: Body["event"], options: { keep?: ((kept: ClaimDocument) => boolean) | undefined; answerLostNow?: boolean } = {},
): Promise<Withdrawn | undefined> {
  const kept = await ownClaim(deps, tenantId, ev);
  if (!kept || kept.status !== "pending" || options.keep?.(kept)) return undefined;
  const lostAt = options.answerLostNow ? deps.now().getTime() : kept.answerLostAt ? Date.parse(kept.answerLostAt) : undefined;
  if (lostAt !== undefined && deps.now().getTime() - lostAt < SETTLE_AFTER_MS) {
    await deps.claims.expireBy(kept, new Date(lostAt + SETTLE_AFTER_MS));
    return { kept, happened: false, settling: true };
  }
  const user = await deps.users.read(tenantId, kept.userId);
  if (user?.assignedLicenses.some((l) => l.skuId === kept.skuId)) return { kept, happened: true };
  // Removed first (if still as read): the unit is given back once, whoever else settles the claim.
  if (await deps.claims.remove(kept)) await deps.reservations.release(tenantId, { skuId: kept.skuId, shard: kept.shard });
  return { kept, happened: false };
}

/**
 * How long after an assignLicense whose answer was lost its claim is settled against Graph (by the
 * maintenance timer, which runs every few minutes): Graph's reads of a user lag behind its writes
 * by seconds, so a read right away could miss the license and give its unit back while the user
 * holds it - a license with no claim (not in the A7 report, not reclaimable by A13).
 */
const SETTLE_AFTER_MS = 2 * 60_000;

const SETTLING =
  "whether Microsoft Graph assigned the license before its answer was lost is checked against Microsoft Graph within minutes: the event then shows claimed, or the reserved license is given back";

/**
 * A10: how old the decision to claim (the switch and the policy as read, themselves at most 10 s
 * old) may be when Graph is called on it; older, it is checked again first. With Graph's short
 * waits (SHORT_BACKGROUND_BUDGET) a claim reaches Graph on a read well within 30 s.
 */
const RECHECK_AFTER_MS = 5_000;

/**
 * A10: a claim about to take its unit and call Graph on a decision grown old on the way (a slow
 * read, Graph throttling a product before) checks the switch and the policy again. What ends it
 * when they say no now: skipped - or claimed, when the claim this event's earlier attempt kept
 * turns out assigned. A4: the policy edited meanwhile (a product removed or added, the order or the
 * disabled plans changed): "replan" - the event is decided again on the policy as it is now.
 * Undefined (go on) when the decision is recent or still holds.
 */
async function noLongerWanted(deps: ProcessorDeps, c: ClaimCall): Promise<ClaimResult | undefined> {
  if (deps.now().getTime() - c.decidedAt <= RECHECK_AFTER_MS) return undefined;
  const ev = c.body.event;
  c.decidedAt = deps.now().getTime();
  const autoClaimOn = await deps.isAutoClaimEnabled(c.tenantId);
  const current = autoClaimOn ? await deps.policies.forApp(c.tenantId, ev.appId) : undefined;
  const plan = claimPlan(autoClaimOn, current, ev.trigger, ev.appId, c.catalog);
  if (!("skip" in plan) && plan.policy.id === c.policy.id) return sameProducts(plan.products, c.planned) ? undefined : { kind: "replan" };
  const stop = "skip" in plan ? plan.skip : { code: "no-policy", reason: `the policy "${c.policy.name}" was deleted` };
  const withdrawn = c.resume ? await withdrawKeptClaim(deps, c.tenantId, ev) : undefined;
  if (withdrawn?.happened) {
    const { kept } = withdrawn;
    return { kind: "claimed", claim: kept, product: c.catalog.products.find((p) => p.skuId === kept.skuId), finalize: () => deps.claims.markClaimed(kept, deps.now()) };
  }
  return { kind: "skipped", code: stop.code, reason: withdrawn ? `${stop.reason}; ${withdrawnText(withdrawn)}` : stop.reason };
}

/** Whether two product lists claim alike: the same products in the same order with the same disabled plans. */
function sameProducts(a: PolicyDocument["products"], b: PolicyDocument["products"]): boolean {
  const key = (list: PolicyDocument["products"]) => JSON.stringify(list.map((p) => [p.skuId.toLowerCase(), [...p.disabledPlans].sort()]));
  return key(a) === key(b);
}

type Plan = { skip: { code: string; reason: string } } | { policy: PolicyDocument; products: PolicyDocument["products"] };

/** A1, A5, A8, A9: whether this event may claim, and from which products (in order). */
export function claimPlan(autoClaimOn: boolean, policy: PolicyDocument | undefined, trigger: SignInEnvelopeBody["event"]["trigger"], appId: string, catalog: Catalog): Plan {
  if (!autoClaimOn) return { skip: { code: "auto-claim-off", reason: "the auto-claim feature is off for this tenant (A1)" } };
  if (!policy) return { skip: { code: "no-policy", reason: `no auto-claim policy for the app ${appId}` } };
  if (!policy.enabled) return { skip: { code: "policy-disabled", reason: `the policy "${policy.name}" is disabled (A5)` } };
  // A policy stored before the apps were an enumeration may name another app: it claims nothing.
  if (!isPolicyApp(policy.appId)) return { skip: { code: "app-not-served", reason: `auto-claim serves ${POLICY_APPS.map((a) => a.displayName).join(", ")}, not the app ${appId}` } };
  const verdict = triggerQualifies(appId, trigger);
  if (!verdict.qualifies) return { skip: { code: "trigger-not-qualifying", reason: verdict.reason } };
  const partNumbers = new Map(catalog.products.map((p) => [p.skuId, p.skuPartNumber]));
  const products = policy.products.filter((p) => productQualifies(trigger, partNumbers.get(p.skuId)));
  if (products.length === 0) {
    return { skip: { code: "trigger-not-qualifying", reason: "attended-RPA triggers claim only a Power Automate Premium product, and the policy has none (A9)" } };
  }
  return { policy, products };
}

/** What a claim works with: the event, the policy and products decided on, and when that was decided. */
interface ClaimCall {
  tenantId: string;
  body: Body;
  policy: PolicyDocument;
  /** The policy's products the decision was made on (an edit since is followed: "replan"). */
  planned: PolicyDocument["products"];
  /** Those of them to claim from, in order (not those the user holds already). */
  products: PolicyDocument["products"];
  catalog: Catalog;
  now: Date;
  resume: boolean;
  /** When the switch and the policy were read (deps.now() ms); moved on when they are read again. */
  decidedAt: number;
  attempt: AttemptState;
}

/** A3 + A10: reserve, lock, assign, in product order. */
async function claim(deps: ProcessorDeps, c: ClaimCall, refreshed = false): Promise<ClaimResult> {
  const { tenantId, body, policy, products, now, resume } = c;
  const ev = body.event;
  const catalog = await deps.catalog.get(tenantId);
  const productOf = (skuId: string) => catalog.products.find((p) => p.skuId === skuId);
  let lastRefusal: AppError | undefined;
  const emptyByCounters: string[] = [];
  // A3: products our counters alone found empty may be behind Graph (licenses bought or freed since
  // the last reconciliation). Before a backup is used because of them, and before the claim fails,
  // they are brought in line with Graph (refreshEmpty: at most once per interval per product), and a
  // product that has licenses after all is used - the first in order. Once per claim.
  const refreshedNow = new Set<string>();
  const broughtInLine = async (): Promise<boolean> => {
    const stale = refreshed ? [] : emptyByCounters.filter((skuId) => !refreshedNow.has(skuId));
    stale.forEach((skuId) => refreshedNow.add(skuId));
    return stale.length > 0 && deps.reservations.refreshEmpty(tenantId, stale);
  };
  // A10: a retry of this event whose earlier attempt kept its claim and unit (Graph's answer not
  // known) goes on with them first - before any unit is reserved: the counters do not count a unit
  // this event holds as free (with the product's last unit kept, a new reservation finds none).
  const kept = resume ? await ownPendingClaim(deps, tenantId, ev, products, now) : undefined;
  const ordered = kept ? [...products.filter((p) => sameSku(p.skuId, kept.skuId)), ...products.filter((p) => !sameSku(p.skuId, kept.skuId))] : products;
  for (const product of ordered) {
    if (await broughtInLine()) return claim(deps, c, true);
    const stop = await noLongerWanted(deps, c);
    if (stop) return stop;
    const pending: ClaimDocument = {
      id: claimId(ev.appId, ev.userId),
      type: "claim",
      tenantId,
      appId: ev.appId,
      userId: ev.userId,
      status: "pending",
      eventId: ev.eventId,
      trigger: ev.trigger,
      source: body.source,
      caller: body.caller,
      policyId: policy.id,
      policyName: policy.name,
      skuId: product.skuId,
      shard: 0, // the shard its unit comes from, set when the unit is taken
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + deps.reservationExpiryMinutes * 60_000).toISOString(),
    };
    const locked: Locked = kept && sameSku(kept.skuId, product.skuId) ? { claimDoc: kept, held: { skuId: kept.skuId, shard: kept.shard } } : await lockClaim(deps, pending, now, resume, products);
    if ("none" in locked) {
      emptyByCounters.push(product.skuId);
      continue;
    }
    if ("result" in locked) return locked.result;
    const { claimDoc, held } = locked;
    const outcome = await deps.assigner
      .assign(tenantId, {
        userId: ev.userId,
        skuId: claimDoc.skuId,
        disabledPlans: products.find((p) => p.skuId === claimDoc.skuId)?.disabledPlans ?? product.disabledPlans,
        context: { eventId: ev.eventId, policyId: policy.id, caller: body.caller.id, source: body.source, trigger: ev.trigger, appId: ev.appId },
      })
      .catch((err: unknown) => ({ outcome: "unknown" as const, error: err }));
    switch (outcome.outcome) {
      case "assigned":
        // Written together with the event's outcome (one round trip less per claim).
        return { kind: "claimed", claim: claimDoc, product: productOf(claimDoc.skuId), finalize: () => deps.claims.markClaimed(claimDoc, deps.now()) };
      case "already-held":
        // This event's own kept claim, found assigned: its earlier attempt's assignLicense did it
        // (Graph's answer was lost) - claimed, not a license without a claim.
        if (claimDoc.eventId === ev.eventId && claimDoc.createdAt !== pending.createdAt) {
          return { kind: "claimed", claim: claimDoc, product: productOf(claimDoc.skuId), finalize: () => deps.claims.markClaimed(claimDoc, deps.now()) };
        }
        await giveBack(deps, tenantId, claimDoc, held);
        return { kind: "skipped", code: "already-licensed", reason: `the user already holds ${productName(catalog, claimDoc.skuId)}` };
      case "no-license-left":
        // The counter said yes, Graph says no: do not give the unit back; go on with the next backup.
        deps.reservations.graphExhausted(tenantId, claimDoc.skuId);
        await deps.claims.remove(claimDoc);
        lastRefusal = outcome.error;
        continue;
      case "unavailable":
      case "unknown":
        // Whether Graph assigned is not known (an outage, a timeout, the audit outcome not written
        // after Graph answered): the pending claim keeps its unit. The retry of this event resumes
        // it (or finds the license and settles it); past its attempts, maintenance settles it
        // against Graph when it expires. Giving it back could leave a license with no claim.
        if (!certainlyNotAssigned(outcome.error)) {
          // Noted on the claim: an attempt that reads Graph about it soon after waits (SETTLE_AFTER_MS).
          c.attempt.assignAnswerUnknown = true;
          await deps.claims.noteAnswerLost(claimDoc, deps.now()).catch(() => undefined);
        } else if (claimDoc.createdAt === pending.createdAt) {
          // Certainly nothing assigned (throttled, Graph's read lag, a lock not taken) by the claim this
          // attempt made: the claim and its unit are given back now. Kept, a retry finding the user
          // licensed meanwhile (an admin's license, shown once the read caught up) would take that for
          // this claim's work and report a claim never made. A claim resumed from an earlier attempt
          // (which may have assigned) stays for the retry and maintenance, as before.
          await giveBack(deps, tenantId, claimDoc, held).catch(() => undefined);
        }
        throw outcome.error;
      case "refused":
        await giveBack(deps, tenantId, claimDoc, held);
        return { kind: "failed", code: outcome.error.code, reason: outcome.error.message, skuId: claimDoc.skuId };
    }
  }
  if (await broughtInLine()) return claim(deps, c, true);
  return {
    kind: "failed",
    code: "no-license-available",
    skuId: products[0]?.skuId,
    reason: `no license available in any product of the policy "${policy.name}" (${products.map((p) => productOf(p.skuId)?.skuPartNumber ?? p.skuId).join(", ")})` +
      (lastRefusal ? `; Graph: ${lastRefusal.message}` : ""),
  };
}

type Locked = { claimDoc: Stored<ClaimDocument>; held: Reservation } | { result: ClaimResult } | { none: true };

/** This event's pending claim on one of these products, kept by an earlier attempt, while it has not expired. */
async function ownPendingClaim(
  deps: ProcessorDeps, tenantId: string, ev: Body["event"], products: ClaimCall["products"], now: Date,
): Promise<Stored<ClaimDocument> | undefined> {
  const own = await ownClaim(deps, tenantId, ev);
  if (!own || own.status !== "pending" || Date.parse(own.expiresAt) < now.getTime()) return undefined;
  return products.some((p) => sameSku(p.skuId, own.skuId)) ? own : undefined;
}

/**
 * Graph's reads of a user lag its writes: a read that misses the license of a claim completed less
 * than this long ago (SETTLE_AFTER_MS, as for a lost answer) says nothing of whether the user still
 * holds it. Another event of the user and app then claims nothing (A10: duplicate events never
 * assign twice); later, a claim whose license is gone (an admin removed it) is made again.
 */
const RECENT_CLAIM_MS = SETTLE_AFTER_MS;

/**
 * Takes a unit of the claim's product and creates the pending claim holding it, in one
 * transactional batch (both or neither). When a claim for the user and app exists already, decides
 * from its state (A10: the same event resumes, another event's live claim wins, an abandoned one is
 * taken over - again together with a unit). `none`: the product has no unit left.
 */
async function lockClaim(deps: ProcessorDeps, pending: ClaimDocument, now: Date, resume: boolean, products: ClaimCall["products"], tries = 1): Promise<Locked> {
  const { tenantId, skuId, userId } = pending;
  const created = await deps.reservations.reserveWith(tenantId, skuId, userId, (shard) => deps.claims.createOperation({ ...pending, shard }));
  if (created.kind === "none") return { none: true };
  if (created.kind === "reserved") return { claimDoc: deps.claims.written({ ...pending, shard: created.reservation.shard }, created.result), held: created.reservation };
  if (created.statusCode !== 409) throw new Error(`Creating the claim ${pending.id} failed (${created.statusCode}).`);

  const existing = await deps.claims.get(tenantId, pending.appId, userId);
  if (!existing) {
    // Removed in between: try again - a few times (a claim that exists to its create and not to its
    // read, for good, would otherwise be tried for ever; the event is then retried by the queue).
    if (tries >= 3) throw new Error(`The claim ${pending.id} exists when created and not when read, ${tries} times.`);
    return lockClaim(deps, pending, now, resume, products, tries + 1);
  }
  const expired = existing.status === "pending" && Date.parse(existing.expiresAt) < now.getTime();
  // This event's earlier attempt kept its claim and unit (Graph's answer unknown): go on with them.
  if (resume && existing.eventId === pending.eventId && existing.status === "pending" && !expired) {
    return { claimDoc: existing, held: { skuId: existing.skuId, shard: existing.shard } };
  }
  // Another delivery of this event is claiming (or has claimed): it writes the outcome.
  if (existing.eventId === pending.eventId && !expired) return { result: { kind: "duplicate" } };
  if (existing.status === "pending" && !expired) {
    return { result: { kind: "skipped", code: "claim-in-progress", reason: `event ${existing.eventId} is claiming a license for this user and app` } };
  }
  // Trusted only for a product this event would claim (an attended-RPA trigger wants Premium, not
  // the per-user product an earlier sign-in claimed), which the user's read then did not show.
  if (existing.status === "claimed" && existing.claimedAt && now.getTime() - Date.parse(existing.claimedAt) < RECENT_CLAIM_MS && products.some((p) => sameSku(p.skuId, existing.skuId))) {
    return {
      result: {
        kind: "skipped",
        code: "already-licensed",
        reason: `the user already holds ${existing.skuId}, claimed for this app by event ${existing.eventId} at ${existing.claimedAt} (Microsoft Graph's reads of the user do not show it yet)`,
      },
    };
  }
  // An abandoned pending claim, or a claim whose license is gone (the user holds none of the
  // policy's products now): this event claims afresh (a completed claim stays in the report, A7).
  await deps.claims.archive(existing);
  const taken = await deps.reservations.reserveWith(tenantId, skuId, userId, (shard) => deps.claims.replaceOperation({ ...pending, shard }, existing._etag));
  if (taken.kind === "none") return { none: true };
  if (taken.kind === "refused") {
    return { result: { kind: "skipped", code: "claim-in-progress", reason: "another event is claiming a license for this user and app" } };
  }
  if (existing.status === "pending") await deps.reservations.release(tenantId, { skuId: existing.skuId, shard: existing.shard }).catch(() => undefined);
  return { claimDoc: deps.claims.written({ ...pending, shard: taken.reservation.shard }, taken.result), held: taken.reservation };
}

/** Removes the claim (if still as read) and then gives its unit back: once, whoever else settles or takes over the claim. */
async function giveBack(deps: ProcessorDeps, tenantId: string, claimDoc: Stored<ClaimDocument>, held: Reservation): Promise<void> {
  if (await deps.claims.remove(claimDoc)) await deps.reservations.release(tenantId, held);
}

/** A deferred event (its caller was over the cap) takes the cap of the day it is processed on. */
async function takeDeferredCap(deps: ProcessorDeps, envelope: Envelope, body: Body, now: Date): Promise<ProcessResult | undefined> {
  const today = utcDay(now);
  const deferredDay = body.deferredDay ?? today;
  if (today > deferredDay) {
    const cap = await deps.caps.tryTake(envelope.tenantId, body.caller.id);
    if (cap.ok) return undefined;
  }
  const delaySeconds = secondsUntilNextDay(now) + Math.floor(Math.random() * 300);
  await resend(deps, envelope, { ...body, deferredDay: today }, `${body.event.eventId}.defer-${today}`, delaySeconds);
  return { kind: "rescheduled", reason: "daily-cap", delaySeconds };
}

async function resend(deps: ProcessorDeps, envelope: Envelope, body: Body, id: string, delaySeconds: number): Promise<void> {
  // A new envelope id: Service Bus would drop a message whose id it saw within its duplicate window.
  await deps.queue.send({ ...envelope, id: id.slice(0, 200), body }, { delaySeconds });
}

function isTransient(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { transient?: unknown }).transient === true;
}
