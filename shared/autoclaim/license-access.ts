import { AppError } from "../errors/app-error.js";
import { systemActor } from "../licenses/actor.js";
import type { LicenseAssignments } from "../licenses/assign.js";
import type { GraphUser, LicensingGraph, UserRead } from "../licenses/graph-licensing.js";
import { retryableUpstream } from "../clients/upstream-body.js";
import { MAX_BATCH_ITEMS } from "../clients/graph-batch.js";
import { Batcher } from "../concurrency/batcher.js";

/**
 * The claim processor's access to users and licenses, built on license administration's module
 * (shared/licenses: one assignLicense path for the whole product). Concurrent claims of a tenant
 * are gathered (group commit): users are read 20 per Graph `$batch`, and licenses are assigned
 * through `assignLicensesBulk`, so up to 20 claims share one `$batch` and one intent/outcome pair
 * of audit records (L16), whose context names every claim's event, policy and caller.
 */
export const AUTO_CLAIM_ACTOR = systemActor("auto-claim", "Auto-claim policies");

export interface LicenseAccessOptions {
  lingerMs: number;
  /** Concurrent `$batch` requests per tenant (each carries up to 20 users). */
  maxInFlight?: number;
}

export class UserReader {
  private readonly batcher: Batcher<string, UserRead>;

  constructor(graph: (tenantId: string) => LicensingGraph, options: LicenseAccessOptions) {
    this.batcher = new Batcher<string, UserRead>(
      async (tenantId, userIds) => {
        const reads = await graph(tenantId).readUsers(userIds);
        return userIds.map((id) => reads.get(id) ?? { ok: false, status: 502, error: new AppError("upstream", "Microsoft Graph gave no answer for the user.") });
      },
      { maxItems: MAX_BATCH_ITEMS, lingerMs: options.lingerMs, maxInFlight: options.maxInFlight ?? 8, clash: (a, b) => a === b },
    );
  }

  /** The user, or undefined when Entra does not know them (or they are soft-deleted). Outages throw (transient). */
  async read(tenantId: string, userId: string): Promise<GraphUser | undefined> {
    const read = await this.batcher.submit(tenantId, userId.toLowerCase());
    if (read.ok) return read.user;
    if (read.status === 404) return undefined;
    throw read.error;
  }
}

export interface ClaimAssignment {
  userId: string;
  skuId: string;
  disabledPlans: string[];
  /** Recorded with the audit records: event, policy, caller, trigger. */
  context: Record<string, unknown>;
}

export type AssignOutcome =
  | { outcome: "assigned" }
  | { outcome: "already-held" }
  | { outcome: "no-license-left"; error: AppError }
  | { outcome: "refused"; error: AppError }
  | { outcome: "unavailable"; error: AppError };

/**
 * Whether Graph certainly did not make the assignment whose call failed: it answered the call 429
 * or 503 at every try - throttled or unavailable before doing anything (`applied: false`, set from
 * the call's own answers in the `$batch`). A timeout, a 504 at any try, another 5xx, a lost
 * connection or a failure of the whole `$batch` request (whose earlier tries may have timed out)
 * leave it unknown: Graph may have assigned, and a read of the user right after may not show it
 * yet (directory reads lag behind writes).
 */
export function certainlyNotAssigned(error: unknown): boolean {
  return error instanceof AppError && error.extensions.applied === false;
}

export class ClaimAssigner {
  private readonly batcher: Batcher<ClaimAssignment, AssignOutcome>;

  constructor(assignments: () => Promise<LicenseAssignments>, options: LicenseAccessOptions) {
    this.batcher = new Batcher<ClaimAssignment, AssignOutcome>(
      async (tenantId, items) => assignMany(await assignments(), tenantId, items),
      { maxItems: MAX_BATCH_ITEMS, lingerMs: options.lingerMs, maxInFlight: options.maxInFlight ?? 6, clash: (a, b) => a.userId === b.userId },
    );
  }

  assign(tenantId: string, item: ClaimAssignment): Promise<AssignOutcome> {
    return this.batcher.submit(tenantId, { ...item, userId: item.userId.toLowerCase() });
  }
}

async function assignMany(assignments: LicenseAssignments, tenantId: string, items: readonly ClaimAssignment[]): Promise<AssignOutcome[]> {
  try {
    const { results } = await assignments.assignLicensesBulk({
      tenantId,
      actor: AUTO_CLAIM_ACTOR,
      changes: items.map((i) => ({ userId: i.userId, add: [{ skuId: i.skuId, disabledPlans: i.disabledPlans }] })),
      mode: "add",
      reason: "auto-claim policy (A10)",
      context: {
        autoClaim: items.map((i) => ({ userId: i.userId, skuId: i.skuId, ...i.context })),
        // The relays (callers) whose events these claims serve: GET /audit?actor=<caller> finds them.
        callers: [...new Set(items.flatMap((i) => (typeof i.context.caller === "string" ? [i.context.caller] : [])))],
      },
      // A claim acts on its policy as read just before: Graph throttling past a few seconds goes
      // back to the queue (the retry checks the policy and the switch again), not waited out here.
      graphMode: "short-background",
    });
    const byUser = new Map(results.map((r) => [r.userId, r]));
    return items.map((item): AssignOutcome => {
      const r = byUser.get(item.userId);
      if (!r) return { outcome: "refused", error: new AppError("internal", "No result for the user.") };
      if (r.outcome === "succeeded") return { outcome: "assigned" };
      if (r.outcome === "skipped") return { outcome: "already-held" };
      return classify(r.error ?? new AppError("upstream", "The license change failed."));
    });
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    const short = err.code === "not-enough-licenses" ? (typeof err.extensions.skuId === "string" ? err.extensions.skuId : "") : "";
    if (short && items.length > 1) {
      // L7 refuses the whole request when one product is short: as many claims of that product as
      // it has licenses go again with the others; only the excess moves on to its next backup (A3).
      const ofShort = items.filter((i) => i.skuId === short);
      const shortBy = typeof err.extensions.shortBy === "number" && err.extensions.shortBy >= 1 ? err.extensions.shortBy : ofShort.length;
      const fitting = new Set(ofShort.slice(0, Math.max(0, ofShort.length - shortBy)));
      const rest = items.filter((i) => i.skuId !== short || fitting.has(i));
      const retried = rest.length ? await assignMany(assignments, tenantId, rest) : [];
      const byUser = new Map(rest.map((i, n) => [i.userId, retried[n]]));
      return items.map((i) => byUser.get(i.userId) ?? { outcome: "no-license-left", error: err });
    }
    return items.map(() => classify(err));
  }
}

function classify(error: AppError): AssignOutcome {
  if (error.code === "not-enough-licenses") return { outcome: "no-license-left", error };
  if (error.transient) return { outcome: "unavailable", error };
  const retryable = retryableUpstream(error);
  if (retryable !== error) return { outcome: "unavailable", error: retryable };
  return { outcome: "refused", error };
}

