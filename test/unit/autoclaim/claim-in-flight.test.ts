import { describe, expect, it } from "vitest";
import { KNOWN_APPS } from "../../../shared/autoclaim/apps.js";
import type { ClaimDocument } from "../../../shared/autoclaim/claims.js";
import { ClaimAssigner } from "../../../shared/autoclaim/license-access.js";
import type { PolicyDocument } from "../../../shared/autoclaim/policy.js";
import { processSignInEvent, type ProcessorDeps } from "../../../shared/autoclaim/processor.js";
import { budgetOf } from "../../../shared/clients/graph.js";
import { KeyedQueue } from "../../../shared/concurrency/keyed-queue.js";
import { AppError } from "../../../shared/errors/app-error.js";
import type { EventOutcome } from "../../../shared/events/event-store.js";
import type { BulkChangeInput, LicenseAssignments } from "../../../shared/licenses/assign.js";
import type { Envelope } from "../../../shared/queue/envelope.js";
import { keptClaim, signInEnvelope } from "./event-fixtures.js";

/**
 * A3, A10, A11 on a claim's way: the switch and the policy are checked again when the decision
 * grew old before Graph is called; a claim that ends without a license gives its unit back at once
 * (unless Graph shows it happened); a backup is used only once the products before it, found empty
 * by the counters alone, were brought in line with Graph. The steady path asks nothing more.
 */
const TENANT = "0b0b0b0b-0000-4000-8000-000000000005";
const APP = KNOWN_APPS.powerBi.appId; // claims at sign-in
const USER = "11111111-1111-4111-8111-111111111111";
const PRIMARY = "44444444-4444-4444-8444-444444444444";
const BACKUP = "55555555-5555-4555-8555-555555555555";

const policy = (enabled = true): PolicyDocument => ({
  id: "p1", type: "policy", tenantId: TENANT, name: "Policy", appId: APP, enabled,
  products: [{ skuId: PRIMARY, disabledPlans: [] }, { skuId: BACKUP, disabledPlans: [] }],
  createdAt: "2026-12-01T00:00:00Z", createdBy: "a", updatedAt: "2026-12-01T00:00:00Z", updatedBy: "a",
});

interface Options {
  /** Units per product by the counters (reserveWith); after a refresh, `afterRefresh`. */
  units?: Record<string, number>;
  afterRefresh?: Record<string, number>;
  /** Whether the user holds PRIMARY, per read of the user (the last answer repeats). */
  holds?: boolean[];
  assign?: () => Promise<unknown>;
  /** The claim stored for the user and app (what claims.get answers once a claim was written). */
  stored?: ClaimDocument;
  /** Milliseconds the clock moves on at each read of the user. */
  userReadTakesMs?: number;
  /** The policy as read at each call of forApp (the last answer repeats). */
  policies?: (PolicyDocument | undefined)[];
  maxAttempts?: number;
  /** Products the catalog knows (none by default). */
  catalogProducts?: unknown[];
  /** Plans switched off in the user's PRIMARY. */
  heldDisabledPlans?: string[];
}

function fakes(opts: Options = {}) {
  const calls: string[] = [];
  const outcomes: EventOutcome[] = [];
  let clock = Date.parse("2026-12-06T12:00:00.000Z");
  let units = { ...opts.units };
  let stored: ClaimDocument | undefined = opts.stored;
  let userReads = 0;
  let policyReads = 0;
  const deps = {
    now: () => new Date(clock),
    events: { setOutcome: (_t: string, _id: string, o: EventOutcome) => (outcomes.push(o), Promise.resolve(true)) },
    isPaused: () => Promise.resolve(false),
    isAutoClaimEnabled: () => (calls.push("switch"), Promise.resolve(true)),
    policies: {
      forApp: () => {
        calls.push("policy");
        const list = opts.policies ?? [policy()];
        return Promise.resolve(list[Math.min(policyReads++, list.length - 1)]);
      },
    },
    catalog: { get: () => Promise.resolve({ tenantId: TENANT, refreshedAt: "2026-12-06T00:00:00Z", products: opts.catalogProducts ?? [] }) },
    users: {
      read: () => {
        calls.push("user");
        clock += opts.userReadTakesMs ?? 0;
        const holds = opts.holds ?? [false];
        const held = holds[Math.min(userReads++, holds.length - 1)];
        return Promise.resolve({
          id: USER, userType: "Member", accountEnabled: true, usageLocation: "NL",
          assignedLicenses: held ? [{ skuId: PRIMARY, disabledPlans: opts.heldDisabledPlans ?? [] }] : [], licenseAssignmentStates: [], assignedPlans: [],
        });
      },
    },
    recordUse: () => Promise.resolve(),
    caps: { giveBack: () => Promise.resolve() },
    claims: {
      createOperation: (doc: ClaimDocument) => doc,
      written: (doc: ClaimDocument) => {
        stored = doc;
        return { ...doc, _etag: "e1" };
      },
      get: () => (calls.push("claim-read"), Promise.resolve(stored && { ...stored, _etag: "e1" })),
      remove: () => {
        calls.push("remove");
        const removed = stored !== undefined;
        stored = undefined;
        return Promise.resolve(removed);
      },
      markClaimed: () => (calls.push("mark"), Promise.resolve()),
      expireBy: (_c: ClaimDocument, at: Date) => (calls.push(`expire-by ${at.toISOString()}`), Promise.resolve(true)),
      noteAnswerLost: () => (calls.push("note-lost"), Promise.resolve()),
      archive: () => Promise.resolve(),
    },
    reservations: {
      reserveWith: (_t: string, skuId: string) => {
        calls.push(`reserve ${skuId}`);
        if (stored) return Promise.resolve({ kind: "refused", statusCode: 409 }); // a claim exists for the user and app
        if ((units[skuId] ?? 0) <= 0) return Promise.resolve({ kind: "none" });
        units[skuId]! -= 1;
        return Promise.resolve({ kind: "reserved", reservation: { skuId, shard: 1 }, result: { resource: undefined, etag: "e1" } });
      },
      release: (_t: string, r: { skuId: string }) => (calls.push(`release ${r.skuId}`), Promise.resolve()),
      refreshEmpty: (_t: string, skuIds: string[]) => {
        calls.push(`refresh ${skuIds.join(",")}`);
        const gained = skuIds.some((s) => (opts.afterRefresh?.[s] ?? 0) > 0);
        if (gained) units = { ...units, ...opts.afterRefresh };
        return Promise.resolve(gained);
      },
      graphExhausted: () => undefined,
    },
    assigner: { assign: (_t: string, a: { skuId: string }) => (calls.push(`assign ${a.skuId}`), (opts.assign ?? (() => Promise.resolve({ outcome: "assigned" })))()) },
    perClaim: new KeyedQueue(),
    reportFailure: () => Promise.resolve(),
    forwardFirstAccess: () => Promise.resolve(),
    reservationExpiryMinutes: 15,
    maxAttempts: opts.maxAttempts ?? 5,
  } as unknown as ProcessorDeps;
  return { deps, calls, outcomes };
}

const EVENT = { tenantId: TENANT, userId: USER, appId: APP, eventId: "ev-flight" };
const envelope = (attempt = 1): Envelope => signInEnvelope(EVENT, attempt);

/** The pending claim an earlier attempt of this event kept (its Graph answer unknown). */
const kept: ClaimDocument = keptClaim(EVENT, PRIMARY, 1);

describe("the steady path", () => {
  it("when the primary has a unit, then the switch and the policy are read once, no counters are refreshed, and one Graph assignment is made", async () => {
    const f = fakes({ units: { [PRIMARY]: 3 } });
    expect(await processSignInEvent(f.deps, envelope(), { count: 1 })).toMatchObject({ kind: "done", outcome: { status: "claimed", claim: { skuId: PRIMARY } } });
    expect(f.calls).toEqual(["switch", "policy", "user", `reserve ${PRIMARY}`, `assign ${PRIMARY}`, "mark"]);
  });
});

describe("A3: a backup is used only after the products before it were brought in line with Graph", () => {
  it("when the counters found the primary empty and Graph has licenses of it, then the primary is claimed, not the backup", async () => {
    const f = fakes({ units: { [PRIMARY]: 0, [BACKUP]: 5 }, afterRefresh: { [PRIMARY]: 2 } });
    expect(await processSignInEvent(f.deps, envelope(), { count: 1 })).toMatchObject({ kind: "done", outcome: { status: "claimed", claim: { skuId: PRIMARY } } });
    expect(f.calls.filter((c) => /^(reserve|refresh|assign)/.test(c))).toEqual([`reserve ${PRIMARY}`, `refresh ${PRIMARY}`, `reserve ${PRIMARY}`, `assign ${PRIMARY}`]);
  });

  it("when Graph confirms the primary empty, then the backup is claimed, each empty product refreshed once", async () => {
    const f = fakes({ units: { [PRIMARY]: 0, [BACKUP]: 0 }, afterRefresh: { [BACKUP]: 1 } });
    expect(await processSignInEvent(f.deps, envelope(), { count: 1 })).toMatchObject({ kind: "done", outcome: { status: "claimed", claim: { skuId: BACKUP } } });
    expect(f.calls.filter((c) => /^(reserve|refresh|assign)/.test(c))).toEqual([
      `reserve ${PRIMARY}`, `refresh ${PRIMARY}`, `reserve ${BACKUP}`, `refresh ${BACKUP}`, `reserve ${PRIMARY}`, `reserve ${BACKUP}`, `assign ${BACKUP}`,
    ]);
  });
});

describe("A10: a decision grown old before Graph is called is checked again", () => {
  it("when reading the user took longer than the recheck interval and the policy was disabled meanwhile, then nothing is reserved or assigned: skipped policy-disabled", async () => {
    const f = fakes({ units: { [PRIMARY]: 3 }, userReadTakesMs: 6_000, policies: [policy(), policy(false)] });
    expect(await processSignInEvent(f.deps, envelope(), { count: 1 })).toMatchObject({ kind: "done", outcome: { status: "skipped", code: "policy-disabled" } });
    expect(f.calls.filter((c) => /^(reserve|assign)/.test(c))).toEqual([]);
  });

  it("when the policy was deleted meanwhile, then skipped no-policy; still there, the claim goes on", async () => {
    const gone = fakes({ units: { [PRIMARY]: 3 }, userReadTakesMs: 6_000, policies: [policy(), undefined] });
    expect(await processSignInEvent(gone.deps, envelope(), { count: 1 })).toMatchObject({ kind: "done", outcome: { status: "skipped", code: "no-policy" } });
    const kept = fakes({ units: { [PRIMARY]: 3 }, userReadTakesMs: 6_000 });
    expect(await processSignInEvent(kept.deps, envelope(), { count: 1 })).toMatchObject({ kind: "done", outcome: { status: "claimed" } });
    expect(kept.calls.filter((c) => c === "policy")).toHaveLength(2);
  });

  it("when our retry resumes a kept claim and the policy is disabled now, then the kept unit is given back unless Graph shows the license assigned", async () => {
    const lost = fakes({ stored: { ...kept, answerLostAt: "2026-12-06T11:59:30.000Z" }, policies: [policy(false)] });
    expect(await processSignInEvent(lost.deps, envelope(2), { count: 1 })).toMatchObject({ kind: "done", outcome: { status: "skipped", code: "policy-disabled", reason: expect.stringContaining("within minutes") } });
    expect(lost.calls.filter((c) => /^(user|remove|release|assign|expire-by)/.test(c))).toEqual(["expire-by 2026-12-06T12:01:30.000Z"]);

    const released = fakes({ stored: kept, policies: [policy(false)] });
    expect(await processSignInEvent(released.deps, envelope(2), { count: 1 })).toMatchObject({ kind: "done", outcome: { status: "skipped", code: "policy-disabled" } });
    expect(released.calls).toEqual(expect.arrayContaining(["remove", `release ${PRIMARY}`]));
    expect(released.calls.filter((c) => c.startsWith("assign"))).toEqual([]);

    const happened = fakes({ stored: kept, policies: [policy(false)], holds: [true] });
    expect(await processSignInEvent(happened.deps, envelope(2), { count: 1 })).toMatchObject({ kind: "done", outcome: { status: "claimed", claim: { skuId: PRIMARY } } });
    expect(happened.calls).toContain("mark");
    expect(happened.calls.filter((c) => c.startsWith("release") || c.startsWith("assign"))).toEqual([]);
  });
});

describe("A4/A10: a policy edited while a claim is on its way", () => {
  const edited = (products: string[]): PolicyDocument => ({ ...policy(), products: products.map((skuId) => ({ skuId, disabledPlans: [] })), updatedAt: "2026-12-06T12:00:03Z" });

  it("when the backup is removed meanwhile and the primary is empty, then the removed backup is not claimed: failed no-license-available", async () => {
    const f = fakes({ units: { [PRIMARY]: 0, [BACKUP]: 1 }, userReadTakesMs: 6_000, policies: [policy(), edited([PRIMARY])] });
    expect(await processSignInEvent(f.deps, envelope(), { count: 1 })).toMatchObject({ kind: "done", outcome: { status: "failed", code: "no-license-available" } });
    expect(f.calls.filter((c) => /^(reserve|assign)/.test(c))).toEqual([`reserve ${PRIMARY}`]);
  });

  it("when the products are reordered meanwhile, then the claim follows the new order", async () => {
    const f = fakes({ units: { [PRIMARY]: 1, [BACKUP]: 1 }, userReadTakesMs: 6_000, policies: [policy(), edited([BACKUP, PRIMARY])] });
    expect(await processSignInEvent(f.deps, envelope(), { count: 1 })).toMatchObject({ kind: "done", outcome: { status: "claimed", claim: { skuId: BACKUP } } });
    expect(f.calls.filter((c) => /^(reserve|assign)/.test(c))).toEqual([`reserve ${BACKUP}`, `assign ${BACKUP}`]);
  });

  it("when a disabled plan is added meanwhile, then the assignment disables it", async () => {
    const plans: unknown[] = [];
    const withPlan: PolicyDocument = { ...policy(), products: [{ skuId: PRIMARY, disabledPlans: ["66666666-6666-4666-8666-666666666666"] }, { skuId: BACKUP, disabledPlans: [] }] };
    const f = fakes({ units: { [PRIMARY]: 1 }, userReadTakesMs: 6_000, policies: [policy(), withPlan] });
    const assign = f.deps.assigner.assign.bind(f.deps.assigner);
    f.deps.assigner.assign = (t, a) => (plans.push(a.disabledPlans), assign(t, a));
    expect(await processSignInEvent(f.deps, envelope(), { count: 1 })).toMatchObject({ kind: "done", outcome: { status: "claimed", claim: { skuId: PRIMARY } } });
    expect(plans).toEqual([["66666666-6666-4666-8666-666666666666"]]);
  });

  it("when our retry resumes a claim kept on a product the policy no longer has, then that unit is given back and the claim is made from the policy as it is", async () => {
    const f = fakes({ stored: kept, units: { [BACKUP]: 1 }, policies: [edited([BACKUP])] });
    expect(await processSignInEvent(f.deps, envelope(2), { count: 1 })).toMatchObject({ kind: "done", outcome: { status: "claimed", claim: { skuId: BACKUP } } });
    expect(f.calls.filter((c) => /^(remove|release|reserve|assign)/.test(c))).toEqual(["remove", `release ${PRIMARY}`, `reserve ${BACKUP}`, `assign ${BACKUP}`]);
  });

  it("when our retry resumes a claim kept on a product the policy no longer has, whose answer was lost moments ago, then Graph is not read yet and no other product is claimed: skipped claim-in-progress, settled by maintenance", async () => {
    const lost: ClaimDocument = { ...kept, answerLostAt: "2026-12-06T11:59:55.000Z" };
    const f = fakes({ stored: lost, units: { [BACKUP]: 1 }, policies: [edited([BACKUP])] });
    expect(await processSignInEvent(f.deps, envelope(2), { count: 1 })).toMatchObject({ kind: "done", outcome: { status: "skipped", code: "claim-in-progress" } });
    expect(f.calls.filter((c) => /^(remove|release|reserve|assign|expire-by)/.test(c))).toEqual(["expire-by 2026-12-06T12:01:55.000Z"]);
  });

  it("when the policy's products change while a claim is on its way, then it is decided again: a product added that the user holds makes it already-licensed", async () => {
    const f = fakes({ units: { [PRIMARY]: 1 }, userReadTakesMs: 6_000, holds: [false, true], policies: [policy(), edited([BACKUP, PRIMARY])] });
    expect(await processSignInEvent(f.deps, envelope(), { count: 1 })).toMatchObject({ kind: "done", outcome: { status: "skipped", code: "already-licensed" } });
    expect(f.calls.filter((c) => /^(reserve|assign)/.test(c))).toEqual([]);
  });

  it("when the user holds the primary with the app's plan switched off and the decision grows old on the way, then the backup is claimed - the policy was not edited, so nothing is decided again (A4, A8)", async () => {
    const PPU_PLAN = "0bf3c642-7bb5-4ccc-884e-59d09df0266c";
    const product = (skuId: string, partNumber: string) => ({
      skuId, skuPartNumber: partNumber, displayName: partNumber, kind: "paid", appliesTo: "User", capabilityStatus: "Enabled", prepaidUnits: { enabled: 10 }, consumedUnits: 0,
      servicePlans: [{ servicePlanId: skuId === PRIMARY ? PPU_PLAN : "70d33638-9c74-4d01-bfd3-562de28bd4ba", servicePlanName: skuId === PRIMARY ? "BI_AZURE_P3" : "BI_AZURE_P2" }],
    });
    const f = fakes({
      units: { [BACKUP]: 1 }, holds: [true], heldDisabledPlans: [PPU_PLAN], userReadTakesMs: 6_000,
      catalogProducts: [product(PRIMARY, "PBI_PREMIUM_PER_USER"), product(BACKUP, "POWER_BI_PRO")],
    });
    expect(await processSignInEvent(f.deps, envelope(), { count: 1 })).toMatchObject({ kind: "done", outcome: { status: "claimed", claim: { skuId: BACKUP } } });
    expect(f.calls.filter((c) => c === "user")).toHaveLength(1);
    expect(f.calls.filter((c) => /^(reserve|assign)/.test(c))).toEqual([`reserve ${BACKUP}`, `assign ${BACKUP}`]);
  });

  it("when our retry resumes a claim and the policy was not edited since it began, then it goes on with it (no unit given back or taken)", async () => {
    const f = fakes({ stored: kept, units: { [BACKUP]: 1 }, policies: [{ ...policy(), updatedAt: "2026-12-06T11:00:00Z" }] });
    expect(await processSignInEvent(f.deps, envelope(2), { count: 1 })).toMatchObject({ kind: "done", outcome: { status: "claimed", claim: { skuId: PRIMARY } } });
    expect(f.calls.filter((c) => /^(remove|release|assign)/.test(c))).toEqual([`assign ${PRIMARY}`]);
  });

  it("when our retry resumes a claim and the policy's products were reordered since it began, then the claim follows the new order: its unit given back, the new primary claimed", async () => {
    const f = fakes({ stored: kept, units: { [BACKUP]: 1 }, policies: [edited([BACKUP, PRIMARY])] });
    expect(await processSignInEvent(f.deps, envelope(2), { count: 1 })).toMatchObject({ kind: "done", outcome: { status: "claimed", claim: { skuId: BACKUP } } });
    expect(f.calls.filter((c) => /^(remove|release|reserve|assign)/.test(c))).toEqual(["remove", `release ${PRIMARY}`, `reserve ${BACKUP}`, `assign ${BACKUP}`]);
  });
});

describe("A10/A11: a claim that ends failed gives its unit back at once", () => {
  /** Graph answered the claim's assignLicense 429 (or 503) past the retry budget: it certainly did not assign. */
  const throttled = (status: number) => () =>
    Promise.resolve({
      outcome: "unavailable",
      error: new AppError("unavailable", `Microsoft Graph is throttling or unavailable (${status}).`, { retryAfterSeconds: 5, extensions: { upstreamStatus: status, applied: false } }),
    });
  /** The call's answer was lost (a timeout, a reset connection): Graph may have assigned. */
  const lost = () => Promise.reject(new AppError("unavailable", "Microsoft Graph could not be reached.", { retryAfterSeconds: 5 }));

  it.each([429, 503])("when the last attempt gives up on a Graph %i and Graph shows no license, then the claim is removed, its unit given back, and the event fails gave-up", async (status) => {
    const f = fakes({ units: { [PRIMARY]: 1 }, assign: throttled(status), maxAttempts: 3 });
    await expect(processSignInEvent(f.deps, envelope(3), { count: 1 })).rejects.toThrow(/unavailable/);
    // Given back as soon as Graph refused for certain (nothing assigned): the claim is gone when the attempt gives up.
    expect(f.calls.slice(-4)).toEqual([`assign ${PRIMARY}`, "remove", `release ${PRIMARY}`, "claim-read"]);
    expect(f.outcomes).toEqual([expect.objectContaining({ status: "failed", code: "gave-up" })]);
  });

  it("when the last attempt gives up on an assignLicense whose answer was lost, then Graph is not read at once (its read may lag the write): the claim keeps its unit and is settled by maintenance in 2 minutes", async () => {
    const f = fakes({ units: { [PRIMARY]: 1 }, assign: lost, maxAttempts: 3 });
    await expect(processSignInEvent(f.deps, envelope(3), { count: 1 })).rejects.toThrow(/reached/);
    expect(f.calls.slice(-3)).toEqual(["note-lost", "claim-read", "expire-by 2026-12-06T12:02:00.000Z"]);
    expect(f.calls.filter((c) => c.startsWith("release") || c === "remove")).toEqual([]);
    expect(f.calls.filter((c) => c === "user")).toHaveLength(1); // the decision's read only
    expect(f.outcomes).toEqual([expect.objectContaining({ status: "failed", code: "gave-up", reason: expect.stringContaining("checked against Microsoft Graph") })]);
  });

  it("when the last attempt gives up before reaching Graph (an earlier attempt's answer was lost), then Graph is read and the unit given back at once", async () => {
    const f = fakes({ units: { [PRIMARY]: 1 }, maxAttempts: 3, stored: kept });
    f.deps.policies.forApp = () => Promise.reject(new AppError("unavailable", "Cosmos DB is unavailable.", { retryAfterSeconds: 1 }));
    await expect(processSignInEvent(f.deps, envelope(3), { count: 1 })).rejects.toThrow(/Cosmos/);
    expect(f.calls.slice(-4)).toEqual(["claim-read", "user", "remove", `release ${PRIMARY}`]);
  });

  it("when the last attempt gives up on a Graph 429 and Graph then shows the license, then it is not taken for this claim's (Graph assigned nothing for it: an admin's license): not claimed, the unit given back", async () => {
    const f = fakes({ units: { [PRIMARY]: 1 }, assign: throttled(429), maxAttempts: 3, holds: [false, true] });
    await expect(processSignInEvent(f.deps, envelope(3), { count: 1 })).rejects.toThrow(/unavailable/);
    expect(f.calls).not.toContain("mark");
    expect(f.calls.filter((c) => c.startsWith("release") || c === "remove")).toEqual(["remove", `release ${PRIMARY}`]);
    expect(f.outcomes).toEqual([expect.objectContaining({ status: "failed", code: "gave-up" })]);
  });

  it("when the last attempt gives up on a resumed claim whose earlier answer was lost, and Graph shows the license, then the event is claimed and its claim settled, nothing given back", async () => {
    const f = fakes({ units: { [PRIMARY]: 1 }, assign: throttled(429), maxAttempts: 3, holds: [false, true], stored: { ...kept, answerLostAt: "2026-12-06T11:50:00.000Z" } });
    expect(await processSignInEvent(f.deps, envelope(3), { count: 1 })).toMatchObject({ kind: "done", outcome: { status: "claimed", claim: { skuId: PRIMARY } } });
    expect(f.calls).toContain("mark");
    expect(f.calls.filter((c) => c.startsWith("release") || c === "remove")).toEqual([]);
  });

  it("when an attempt before the last fails, then the claim keeps its unit for the retry", async () => {
    const f = fakes({ units: { [PRIMARY]: 1 }, assign: lost, maxAttempts: 3 });
    await expect(processSignInEvent(f.deps, envelope(2), { count: 1 })).rejects.toThrow(/reached/);
    expect(f.calls.filter((c) => c.startsWith("release") || c === "remove")).toEqual([]);
    expect(f.outcomes).toEqual([expect.objectContaining({ status: "queued", code: "retrying" })]);
  });
});

describe("A10: a claim waits on Graph throttling only briefly", () => {
  it("when claims go to Graph, then with the short background budget: a Retry-After of 20 s is not waited out in the process (the queue retries after it, deciding again), and a request's waits stay under 10 s", async () => {
    const modes: unknown[] = [];
    const assignments = {
      assignLicensesBulk: (input: BulkChangeInput) => {
        modes.push(input.graphMode);
        return Promise.resolve({ results: input.changes.map((c) => ({ userId: c.userId, outcome: "succeeded" })), shortages: [] });
      },
    } as unknown as LicenseAssignments;
    const assigner = new ClaimAssigner(() => Promise.resolve(assignments), { lingerMs: 0 });
    expect(await assigner.assign(TENANT, { userId: USER, skuId: PRIMARY, disabledPlans: [], context: {} })).toEqual({ outcome: "assigned" });
    expect(modes).toEqual(["short-background"]);
    const budget = budgetOf("short-background");
    expect(budget.maxDelaySeconds).toBeLessThan(20);
    expect(budget.maxRetries * budget.maxDelaySeconds).toBeLessThan(10);
  });
});
