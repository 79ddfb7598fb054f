import { raiseLicensingFailure } from "../alerts/composition.js";
import { createEntraExtensionAuthenticator, type EntraExtensionAuthenticator } from "../auth/entra-extension-token.js";
import { CallerCaps } from "../events/caller-cap.js";
import { EventStore } from "../events/event-store.js";
import { RecentSignIns } from "../events/entra-extension.js";
import type { SignInEnvelopeBody } from "../events/sign-in-event.js";
import { licensing, type Licensing } from "../licenses/composition.js";
import { productOfApp, recordProductUse } from "../licenses/usage.js";
import { firstAccessEnvelope } from "../sync/first-access.js";
import { getRuntime, type Runtime } from "../runtime.js";
import { autoClaimSettings, isAutoClaimEnabled, isAutomationPaused } from "../settings/automation.js";
import { ClaimStore } from "./claims.js";
import { KeyedQueue } from "../concurrency/keyed-queue.js";
import { ClaimAssigner, UserReader } from "./license-access.js";
import { PolicyStore } from "./policy-store.js";
import type { ProcessorDeps } from "./processor.js";
import type { ReclaimDeps } from "./reclaim.js";
import { Reservations } from "./reservations.js";

/**
 * Auto-claim's services, built once per process from the runtime and license administration's
 * services (the catalog cache, the assignment use-case, the Graph client are shared with them).
 */
export interface AutoClaim {
  runtime: Runtime;
  licensing: Licensing;
  policies: PolicyStore;
  events: EventStore;
  claims: ClaimStore;
  reservations: Reservations;
  caps: CallerCaps;
  users: UserReader;
  assigner: ClaimAssigner;
  processor: ProcessorDeps;
  entraAuth: EntraExtensionAuthenticator;
  recentSignIns: RecentSignIns;
}

let built: Promise<AutoClaim> | undefined;

export function autoClaim(): Promise<AutoClaim> {
  built ??= Promise.all([getRuntime(), licensing()])
    .then(([rt, lic]) => build(rt, lic))
    .catch((err: unknown) => {
      built = undefined;
      throw err;
    });
  return built;
}

function build(rt: Runtime, lic: Licensing): AutoClaim {
  const config = rt.config;
  const policies = new PolicyStore(rt.container("policies"));
  const events = new EventStore(rt.container("events"), { arrivalLingerMs: config.EVENT_STORE_LINGER_MS });
  const claims = new ClaimStore(rt.container("autoclaim"));
  const caps = new CallerCaps(rt.container("autoclaim"), config.AUTOCLAIM_DAILY_CAP_PER_CALLER);
  const reservations = new Reservations({
    container: rt.container("autoclaim"),
    shards: config.AUTOCLAIM_COUNTER_SHARDS,
    exhaustedMemoMs: config.AUTOCLAIM_EXHAUSTED_MEMO_MS,
    emptyRefreshMs: config.AUTOCLAIM_EMPTY_REFRESH_MS,
    availableInGraph: async (tenantId, skuId) => {
      const catalog = await lic.catalog.get(tenantId, { fresh: true });
      return catalog.products.find((p) => p.skuId === skuId)?.available;
    },
    pendingClaims: (tenantId, skuId) => claims.pendingCount(tenantId, skuId),
  });
  const lingerMs = config.AUTOCLAIM_BATCH_LINGER_MS;
  const users = new UserReader((tenantId) => lic.graph(tenantId, "background"), { lingerMs });
  const assigner = new ClaimAssigner(() => Promise.resolve(lic.assignments), { lingerMs });
  const usageRecorded = new Map<string, string>();
  const processor: ProcessorDeps = {
    events,
    claims,
    reservations,
    policies,
    catalog: lic.catalog,
    users,
    assigner,
    assignments: () => Promise.resolve(lic.assignments),
    queue: rt.eventQueue,
    caps,
    isPaused: shareConcurrent(isAutomationPaused),
    isAutoClaimEnabled: shareConcurrent(isAutoClaimEnabled),
    // D4: the Dataverse sync's contract (shared/sync/first-access.ts).
    forwardFirstAccess: async (tenantId: string, body: SignInEnvelopeBody, claimedSkuId?: string) => {
      const { environmentId } = body.event;
      if (environmentId) await rt.eventQueue.send(firstAccessEnvelope(tenantId, { ...body.event, environmentId }, claimedSkuId));
    },
    recordUse: async (tenantId, userId, appId, at) => {
      const product = productOfApp(appId);
      if (!product) return;
      // Once per user, product and day per process: the first use is what L13 needs, the day what L19 and A13 need.
      const key = `${tenantId}|${userId}|${product}`;
      const day = at.toISOString().slice(0, 10);
      if ((usageRecorded.get(key) ?? "") >= day) return;
      await recordProductUse(rt.container("usage"), { tenantId, userId, product, at });
      if (usageRecorded.size > 100_000) usageRecorded.clear();
      usageRecorded.set(key, day);
    },
    reportFailure: raiseLicensingFailure,
    audit: rt.audit,
    perClaim: new KeyedQueue(),
    pauseRecheckSeconds: config.AUTOCLAIM_PAUSE_RECHECK_SECONDS,
    reservationExpiryMinutes: config.AUTOCLAIM_RESERVATION_EXPIRY_MINUTES,
    maxAttempts: config.QUEUE_MAX_ATTEMPTS,
    now: () => new Date(),
  };
  const entraAuth = createEntraExtensionAuthenticator({
    authorityHost: config.ENTRA_AUTHORITY_HOST,
    audiences: config.ENTRA_EXTENSION_AUDIENCES,
    callerAppId: config.ENTRA_EXTENSION_CALLER_APP_ID,
    isTenantOnboarded: (t) => rt.tenants.isOnboarded(t),
  });
  return { runtime: rt, licensing: lic, policies, events, claims, reservations, caps, users, assigner, processor, entraAuth, recentSignIns: new RecentSignIns() };
}

/**
 * Concurrent calls for the same tenant share one call (the settings cache answers for 10 s, but
 * when it runs out every claim in flight would read Cosmos at once).
 */
function shareConcurrent(read: (tenantId: string) => Promise<boolean>): (tenantId: string) => Promise<boolean> {
  const running = new Map<string, Promise<boolean>>();
  return (tenantId) => {
    let call = running.get(tenantId);
    if (!call) {
      call = read(tenantId).finally(() => running.delete(tenantId));
      running.set(tenantId, call);
    }
    return call;
  };
}

/** A13's dependencies (the reclaim timer, and the run after automation resumes). */
export function reclaimDeps(ac: AutoClaim, overrides: Partial<ReclaimDeps> = {}): ReclaimDeps {
  return {
    tenants: ac.runtime.container("tenants"),
    usage: ac.runtime.container("usage"),
    claims: ac.claims,
    reservations: ac.reservations,
    assignments: () => Promise.resolve(ac.licensing.assignments),
    isPaused: isAutomationPaused,
    autoClaimSettings,
    policies: (tenantId) => ac.policies.all(tenantId),
    afterDays: ac.runtime.config.AUTOCLAIM_RECLAIM_AFTER_DAYS,
    now: () => new Date(),
    ...overrides,
  };
}
