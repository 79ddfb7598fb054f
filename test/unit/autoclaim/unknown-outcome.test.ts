import { describe, expect, it } from "vitest";
import { KNOWN_APPS } from "../../../shared/autoclaim/apps.js";
import type { ClaimDocument } from "../../../shared/autoclaim/claims.js";
import { processSignInEvent, type ProcessorDeps } from "../../../shared/autoclaim/processor.js";
import { KeyedQueue } from "../../../shared/concurrency/keyed-queue.js";
import { AppError } from "../../../shared/errors/app-error.js";
import type { EventOutcome } from "../../../shared/events/event-store.js";
import type { Envelope } from "../../../shared/queue/envelope.js";
import { licenseErrors } from "../../../shared/licenses/errors.js";
import { keptClaim, signInEnvelope } from "./event-fixtures.js";

/**
 * A10/A11: when Graph's answer to an assignment is not known (an outage, a timeout, the audit
 * outcome not written after Graph answered), the pending claim keeps its unit; the event's retry
 * resumes it, or settles it when the user turns out to hold the license. Giving it back would leave
 * a license Graph may have assigned with no claim (not in the report, never reclaimed).
 */
const TENANT = "0b0b0b0b-0000-4000-8000-000000000004";
const APP = KNOWN_APPS.powerBi.appId; // claims at sign-in
const USER = "11111111-1111-4111-8111-111111111111";
const SKU = "44444444-4444-4444-8444-444444444444";

function fakes(opts: { holds: boolean; assign: () => Promise<unknown>; existing?: ClaimDocument; noUnitLeft?: boolean; policySkus?: string[]; takeOverSucceeds?: boolean }) {
  const calls = { released: 0, removed: 0, reserved: 0, assigned: 0, marked: 0, notedLost: 0, archived: 0 };
  const outcomes: EventOutcome[] = [];
  const deps = {
    now: () => new Date("2026-12-06T12:00:00.000Z"),
    events: { setOutcome: (_t: string, _id: string, o: EventOutcome) => (outcomes.push(o), Promise.resolve(true)) },
    isPaused: () => Promise.resolve(false),
    isAutoClaimEnabled: () => Promise.resolve(true),
    policies: { forApp: () => Promise.resolve({ id: "p1", name: "Policy", appId: APP, enabled: true, products: (opts.policySkus ?? [SKU]).map((skuId) => ({ skuId, disabledPlans: [] })) }) },
    catalog: { get: () => Promise.resolve({ tenantId: TENANT, refreshedAt: "2026-12-06T00:00:00Z", products: [] }) },
    users: {
      read: () =>
        Promise.resolve({
          id: USER, userType: "Member", accountEnabled: true, usageLocation: "NL",
          assignedLicenses: opts.holds ? [{ skuId: SKU, disabledPlans: [] }] : [], licenseAssignmentStates: [], assignedPlans: [],
        }),
    },
    recordUse: () => Promise.resolve(),
    claims: {
      createOperation: (doc: ClaimDocument) => doc,
      written: (doc: ClaimDocument) => ({ ...doc, _etag: "e1" }),
      get: () => Promise.resolve(opts.existing && { ...opts.existing, _etag: "e1" }),
      remove: () => (calls.removed++, Promise.resolve(true)),
      markClaimed: () => (calls.marked++, Promise.resolve()),
      noteAnswerLost: () => (calls.notedLost++, Promise.resolve()),
      archive: () => (calls.archived++, Promise.resolve()),
    },
    reservations: {
      reserveWith: () => {
        calls.reserved++;
        if (opts.noUnitLeft) return Promise.resolve({ kind: "none" });
        // The claim's create meets the existing claim (409); its take-over (the second call) succeeds when told.
        if (opts.takeOverSucceeds && calls.reserved > 1) return Promise.resolve({ kind: "reserved", reservation: { skuId: SKU, shard: 2 }, result: { resource: undefined, etag: "e2" } });
        return Promise.resolve(opts.existing ? { kind: "refused", statusCode: 409 } : { kind: "reserved", reservation: { skuId: SKU, shard: 2 }, result: { resource: undefined, etag: "e1" } });
      },
      release: () => (calls.released++, Promise.resolve()),
      graphExhausted: () => undefined,
    },
    assigner: { assign: () => (calls.assigned++, opts.assign()) },
    perClaim: new KeyedQueue(),
    caps: { giveBack: () => Promise.resolve() },
    reportFailure: () => Promise.resolve(),
    forwardFirstAccess: () => Promise.resolve(),
    reservationExpiryMinutes: 15,
    maxAttempts: 5,
  } as unknown as ProcessorDeps;
  return { deps, calls, outcomes };
}

const EVENT = { tenantId: TENANT, userId: USER, appId: APP, eventId: "ev-unknown" };
const envelope = (attempt: number): Envelope => signInEnvelope(EVENT, attempt);

/** The pending claim an earlier attempt of this event kept (its Graph answer unknown). */
const kept: ClaimDocument = keptClaim(EVENT, SKU, 2);

describe("an assignment whose outcome is unknown", () => {
  it("when Graph's answer is lost (an outage past the budget, a timeout, an error after Graph answered), then the pending claim and its unit are kept and the error goes on to be retried", async () => {
    for (const failure of [new AppError("unavailable", "Microsoft Graph is unavailable.", { retryAfterSeconds: 5 }), new Error("socket hang up")]) {
      const f = fakes({ holds: false, assign: () => Promise.reject(failure) });
      await expect(processSignInEvent(f.deps, envelope(1), { count: 1 })).rejects.toBe(failure);
      expect(f.calls).toMatchObject({ reserved: 1, assigned: 1, released: 0, removed: 0, notedLost: 1 }); // the claim says when its answer was lost
    }
  });

  it("when the assignment certainly did not happen (Graph's read lag, throttled, a lock not taken: applied false), then the claim and its unit are given back at once and the error goes on to be retried", async () => {
    const lag = licenseErrors.readLag(USER, "2026-12-06T11:59:50.000Z", 10);
    const f = fakes({ holds: false, assign: () => Promise.reject(lag) });
    await expect(processSignInEvent(f.deps, envelope(1), { count: 1 })).rejects.toBe(lag);
    // Kept, the retry would take an admin's license - shown once the read caught up - for this claim's work.
    expect(f.calls).toMatchObject({ reserved: 1, assigned: 1, released: 1, removed: 1, notedLost: 0 });
  });

  it("when a claim refused for certain was removed or changed meanwhile (settled or taken over elsewhere), then its unit is not given back a second time", async () => {
    const lag = licenseErrors.readLag(USER, "2026-12-06T11:59:50.000Z", 10);
    const f = fakes({ holds: false, assign: () => Promise.reject(lag) });
    (f.deps.claims as unknown as { remove: () => Promise<boolean> }).remove = () => (f.calls.removed++, Promise.resolve(false));
    await expect(processSignInEvent(f.deps, envelope(1), { count: 1 })).rejects.toBe(lag);
    expect(f.calls).toMatchObject({ removed: 1, released: 0 });
  });

  it("when a resumed claim is then refused for certain (read lag), then it stays kept, noted or not: the earlier attempt may have assigned", async () => {
    const f = fakes({ holds: false, assign: () => Promise.reject(licenseErrors.readLag(USER, "2026-12-06T11:59:50.000Z", 10)), existing: kept });
    await expect(processSignInEvent(f.deps, envelope(2), { count: 1 })).rejects.toMatchObject({ code: "read-lag" });
    expect(f.calls).toMatchObject({ assigned: 1, released: 0, removed: 0 });
  });

  it("when a resumed claim whose earlier answer was lost is then refused for certain (read lag), then it stays kept: the earlier attempt may have assigned", async () => {
    const f = fakes({ holds: false, assign: () => Promise.reject(licenseErrors.readLag(USER, "2026-12-06T11:59:50.000Z", 10)), existing: { ...kept, answerLostAt: "2026-12-06T11:59:10.000Z" } });
    await expect(processSignInEvent(f.deps, envelope(2), { count: 1 })).rejects.toMatchObject({ code: "read-lag" });
    expect(f.calls).toMatchObject({ assigned: 1, released: 0, removed: 0 });
  });

  it("when an attempt fails transiently and more attempts are left, then the event shows it is tried again, and why (A11)", async () => {
    const f = fakes({ holds: false, assign: () => Promise.reject(new AppError("unavailable", "Microsoft Graph is unavailable.", { retryAfterSeconds: 5 })) });
    await expect(processSignInEvent(f.deps, envelope(2), { count: 1 })).rejects.toMatchObject({ transient: true });
    expect(f.outcomes.at(-1)).toMatchObject({ status: "queued", code: "retrying", reason: expect.stringMatching(/^attempt 2 of 5 failed \(Microsoft Graph is unavailable\.\); it is tried again$/) as string });
  });

  it("when Graph did not confirm the assignment, then the event's reason says the next attempt checks it - not the advice an API caller gets to read the licenses first", async () => {
    const unconfirmed = new AppError("unavailable", "Microsoft Graph did not confirm the change (504): whether it was made for this user is not known. Read the user's licenses before trying again.", {
      code: "outcome-unknown", retryAfterSeconds: 5,
    });
    const f = fakes({ holds: false, assign: () => Promise.reject(unconfirmed) });
    await expect(processSignInEvent(f.deps, envelope(2), { count: 1 })).rejects.toMatchObject({ transient: true });
    const reason = (f.outcomes.at(-1) as { reason: string }).reason;
    expect(reason).toMatch(/did not confirm the assignment: the next attempt checks whether it was made/);
    expect(reason).not.toMatch(/Read the user's licenses/);
  });

  it("when the retry finds the user without the license, then it resumes the kept claim with its unit: assigned once more, no new unit taken, nothing given back", async () => {
    const f = fakes({ holds: false, assign: () => Promise.resolve({ outcome: "assigned" }), existing: kept });
    const result = await processSignInEvent(f.deps, envelope(2), { count: 1 });
    expect(result).toMatchObject({ kind: "done", outcome: { status: "claimed", claim: { skuId: SKU } } });
    expect(f.calls).toMatchObject({ assigned: 1, released: 0, removed: 0, marked: 1 });
  });

  it("when the kept claim holds the product's last unit, then the retry still resumes it (the counters show no unit free, and none is taken): assigned, not failed for want of a license", async () => {
    const f = fakes({ holds: false, assign: () => Promise.resolve({ outcome: "assigned" }), existing: kept, noUnitLeft: true });
    const result = await processSignInEvent(f.deps, envelope(3), { count: 1 });
    expect(result).toMatchObject({ kind: "done", outcome: { status: "claimed", claim: { skuId: SKU } } });
    expect(f.calls).toMatchObject({ reserved: 0, assigned: 1, released: 0, removed: 0, marked: 1 });
  });

  it("when the resumed claim's assignment finds the license already held (the earlier attempt's assignLicense did it, the retry's first read lagging), then the event is claimed and the unit kept", async () => {
    const f = fakes({ holds: false, assign: () => Promise.resolve({ outcome: "already-held" }), existing: kept });
    const result = await processSignInEvent(f.deps, envelope(2), { count: 1 });
    expect(result).toMatchObject({ kind: "done", outcome: { status: "claimed", claim: { skuId: SKU } } });
    expect(f.calls).toMatchObject({ assigned: 1, released: 0, removed: 0, marked: 1 });
  });

  it("when the retry finds the user holding the license (Graph had assigned it), then the kept claim is settled: claimed, no second assignment", async () => {
    const f = fakes({ holds: true, assign: () => Promise.reject(new Error("must not be called")), existing: kept });
    const result = await processSignInEvent(f.deps, envelope(2), { count: 1 });
    expect(result).toMatchObject({ kind: "done", outcome: { status: "claimed" } });
    expect(f.calls).toMatchObject({ assigned: 0, reserved: 0, released: 0, marked: 1 });
  });

  it("when a redelivery of the first attempt meets the kept claim, then it is a duplicate (its own retry, or maintenance, settles the claim)", async () => {
    const f = fakes({ holds: false, assign: () => Promise.reject(new Error("must not be called")), existing: kept });
    expect(await processSignInEvent(f.deps, envelope(1), { count: 2 })).toEqual({ kind: "duplicate" });
    expect(f.calls).toMatchObject({ assigned: 0, released: 0, removed: 0 });
  });
});

describe("another event of a user and app whose claim was just completed (A10, Graph's reads lagging)", () => {
  const claimed = (minutesAgo: number): ClaimDocument => ({
    ...keptClaim({ ...EVENT, eventId: "ev-first" }, SKU, 1),
    status: "claimed",
    claimedAt: new Date(Date.parse("2026-12-06T12:00:00.000Z") - minutesAgo * 60_000).toISOString(),
  });
  const second = signInEnvelope({ ...EVENT, eventId: "ev-second" }, 1);

  it("when the user's read does not show the license claimed a minute ago, then the event claims nothing (already licensed): Graph is not called again", async () => {
    const f = fakes({ holds: false, assign: () => Promise.reject(new Error("must not be called")), existing: claimed(1) });
    const result = await processSignInEvent(f.deps, second, { count: 1 });
    expect(result).toMatchObject({ kind: "done", outcome: { status: "skipped", code: "already-licensed", reason: expect.stringContaining("ev-first") as string } });
    expect(f.calls).toMatchObject({ assigned: 0, archived: 0 });
  });

  it("when the claim was completed long enough ago that the read is current (the license gone), then the event claims afresh", async () => {
    const f = fakes({ holds: false, assign: () => Promise.resolve({ outcome: "assigned" }), existing: claimed(30), takeOverSucceeds: true });
    const result = await processSignInEvent(f.deps, second, { count: 1 });
    expect(result).toMatchObject({ kind: "done", outcome: { status: "claimed", claim: { skuId: SKU } } });
    expect(f.calls).toMatchObject({ archived: 1, assigned: 1 });
  });

  it("when the recent claim is of a product this event would not claim (an attended-RPA trigger wants Premium), then it is no reason to skip: the event claims its own product", async () => {
    const PREMIUM = "55555555-5555-4555-8555-555555555555";
    const f = fakes({ holds: false, assign: () => Promise.resolve({ outcome: "assigned" }), existing: claimed(1), takeOverSucceeds: true, policySkus: [PREMIUM] });
    const result = await processSignInEvent(f.deps, second, { count: 1 });
    expect(result).toMatchObject({ kind: "done", outcome: { status: "claimed" } });
    expect(f.calls).toMatchObject({ archived: 1, assigned: 1 });
  });
});
