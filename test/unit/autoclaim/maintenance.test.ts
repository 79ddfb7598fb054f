import { describe, expect, it, vi } from "vitest";
import type { ClaimDocument } from "../../../shared/autoclaim/claims.js";
import { runMaintenance, type MaintenanceDeps } from "../../../shared/autoclaim/maintenance.js";
import type { Stored } from "../../../shared/storage/repository.js";
import { keptClaim } from "./event-fixtures.js";

/**
 * A10 maintenance settles expired pending claims only as it read them: a new event that took the
 * claim over meanwhile keeps its unit and its claim (no unit given back twice, no claim marked
 * claimed for the wrong event).
 */
const TENANT = "0b0b0b0b-0000-4000-8000-000000000006";
vi.mock("../../../shared/tenants/tenant-registry.js", () => ({ activeTenantIds: () => Promise.resolve(["0b0b0b0b-0000-4000-8000-000000000006"]) }));
const SKU = "44444444-4444-4444-8444-444444444444";
const expired: Stored<ClaimDocument> = { ...keptClaim({ tenantId: TENANT, userId: "11111111-1111-4111-8111-111111111111", appId: "a", eventId: "ev" }, SKU, 1), _etag: "e1", _ts: 1 };

function fakes(opts: { holds: boolean; stillAsRead: boolean; catalogDown?: boolean; event?: Record<string, unknown> }) {
  const calls: string[] = [];
  const outcomes: unknown[] = [];
  const sent: { kind: string; id: string; body: unknown }[] = [];
  const deps = {
    tenants: {},
    policies: { all: () => Promise.resolve([{ products: [{ skuId: SKU }] }]) },
    claims: {
      expiredPending: () => Promise.resolve([expired]),
      markClaimedIf: () => (calls.push("mark"), Promise.resolve(opts.stillAsRead)),
      remove: () => (calls.push("remove"), Promise.resolve(opts.stillAsRead)),
    },
    reservations: { release: () => (calls.push("release"), Promise.resolve()), reconcile: () => Promise.resolve() },
    users: { read: () => Promise.resolve({ assignedLicenses: opts.holds ? [{ skuId: SKU, disabledPlans: [] }] : [] }) },
    events: { setOutcome: (_t: string, _e: string, outcome: unknown) => (calls.push("outcome"), outcomes.push(outcome), Promise.resolve(true)), get: () => Promise.resolve(opts.event) },
    queue: { send: (envelope: { kind: string; id: string; body: unknown }) => (sent.push(envelope), Promise.resolve()) },
    catalog: {
      get: () => (opts.catalogDown ? Promise.reject(new Error("Graph down")) : Promise.resolve({ tenantId: TENANT, refreshedAt: "", products: [{ skuId: SKU, skuPartNumber: "FLOW_PER_USER" }] })),
    },
    now: () => new Date("2026-12-07T00:00:00Z"),
  } as unknown as MaintenanceDeps;
  return { deps, calls, outcomes, sent };
}

describe("A10 maintenance of expired pending claims", () => {
  it.each([
    [true, true, ["mark", "outcome"]],
    [false, true, ["remove", "release"]],
    [true, false, ["mark"]],
    [false, false, ["remove"]],
  ])("when Graph shows the license %s and the claim is still as read %s, then %j", async (holds, stillAsRead, expected) => {
    const { deps, calls } = fakes({ holds, stillAsRead });
    await runMaintenance(deps);
    expect(calls).toEqual(expected);
  });

  it("when it settles a claim as claimed, then the event names the product as a claim by the processor does; the catalog down leaves the name out, not the outcome", async () => {
    const named = fakes({ holds: true, stillAsRead: true });
    await runMaintenance(named.deps);
    expect(named.outcomes).toEqual([{ status: "claimed", claim: expect.objectContaining({ skuId: SKU, skuPartNumber: "FLOW_PER_USER" }) }]);
    const unnamed = fakes({ holds: true, stillAsRead: true, catalogDown: true });
    await runMaintenance(unnamed.deps);
    expect(unnamed.outcomes).toEqual([{ status: "claimed", claim: expect.objectContaining({ skuId: SKU, skuPartNumber: null }) }]);
  });

  it("when it settles as claimed an event that reported a first access not yet handed over (its worker stopped in between), then it hands it to the sync once and the event says so", async () => {
    const event = { eventId: "ev", userId: "11111111-1111-4111-8111-111111111111", appId: "a", trigger: "premium-app-launch", environmentId: "e0000000-0000-4000-8000-000000000001", occurredAt: "2026-12-07T00:00:00Z" };
    const pending = fakes({ holds: true, stillAsRead: true, event: { event, firstAccess: null } });
    await runMaintenance(pending.deps);
    expect(pending.sent).toEqual([expect.objectContaining({ kind: "first-access", id: "ev.first-access", body: expect.objectContaining({ environmentId: event.environmentId, eventId: "ev" }) })]);
    expect(pending.outcomes).toEqual([expect.objectContaining({ status: "claimed", firstAccess: "forwarded" })]);
    const already = fakes({ holds: true, stillAsRead: true, event: { event, firstAccess: "forwarded" } });
    await runMaintenance(already.deps);
    expect(already.sent).toEqual([]);
    const none = fakes({ holds: true, stillAsRead: true, event: { event: { ...event, environmentId: undefined }, firstAccess: null } });
    await runMaintenance(none.deps);
    expect(none.sent).toEqual([]);
    expect(none.outcomes[0]).not.toHaveProperty("firstAccess");
  });
});
