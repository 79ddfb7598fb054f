import { randomUUID } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { KNOWN_APPS } from "../../../shared/autoclaim/apps.js";
import { ClaimStore, claimId, type ClaimDocument } from "../../../shared/autoclaim/claims.js";
import { runReclamation } from "../../../shared/autoclaim/reclaim.js";
import type { Reservations } from "../../../shared/autoclaim/reservations.js";
import type { LicenseAssignments } from "../../../shared/licenses/assign.js";
import { createItem } from "../../../shared/storage/repository.js";
import { AppError } from "../../../shared/errors/app-error.js";
import { useLocalCosmos } from "../../support/cosmos.js";

const cosmos = useLocalCosmos("reclaim");
const DAY = 24 * 3600_000;

/** A tenant with one Power Apps claim made 10 days ago and never used since (A13 reclaims it after 3 days). */
async function idleClaim() {
  const tenantId = randomUUID();
  const policyId = randomUUID();
  const userId = randomUUID();
  const skuId = randomUUID();
  const appId = KNOWN_APPS.powerApps.appId;
  const autoclaim = cosmos.database.container("autoclaim");
  await createItem(cosmos.database.container("tenants"), { id: tenantId, displayName: "Reclaim", status: "active" });
  const at = new Date(Date.now() - 10 * DAY).toISOString();
  const claim: ClaimDocument = {
    id: claimId(appId, userId), type: "claim", tenantId, appId, userId, status: "claimed", eventId: randomUUID(), trigger: "premium-app-launch",
    source: "E3", caller: { id: "relay", kind: "relay" }, policyId, policyName: "Power Apps", skuId, shard: 0, createdAt: at, expiresAt: at, claimedAt: at,
  };
  await createItem(autoclaim, claim);
  const assignLicenses = vi.fn(() => Promise.resolve({}));
  const run = (opts: { autoClaimOn: boolean; policies: { id: string; enabled: boolean }[]; reclaimAfterDays?: number | null; deploymentDays?: number }) =>
    runReclamation({
      tenants: cosmos.database.container("tenants"),
      usage: cosmos.database.container("usage"),
      claims: new ClaimStore(autoclaim),
      reservations: { release: () => Promise.resolve() } as unknown as Reservations,
      assignments: () => Promise.resolve({ assignLicenses } as unknown as LicenseAssignments),
      isPaused: () => Promise.resolve(false),
      autoClaimSettings: (t) => Promise.resolve({ enabled: t !== tenantId || opts.autoClaimOn, reclaimAfterDays: t === tenantId ? (opts.reclaimAfterDays ?? null) : null }),
      policies: (t) => Promise.resolve(t === tenantId ? opts.policies : []),
      afterDays: opts.deploymentDays ?? 3,
      now: () => new Date(),
    });
  const status = async () => (await autoclaim.item(claim.id, tenantId).read<ClaimDocument>()).resource?.status;
  return { policyId, userId, skuId, run, status, assignLicenses };
}

describe("A13 reclamation leaves claims alone where the admin said so", () => {
  it("when auto-claim is off for the tenant (A1: claimed licenses stay), then nothing is reclaimed; switched on, the idle claim is", async () => {
    const t = await idleClaim();

    await t.run({ autoClaimOn: false, policies: [{ id: t.policyId, enabled: true }] });
    expect(t.assignLicenses).not.toHaveBeenCalled();
    expect(await t.status()).toBe("claimed");

    await t.run({ autoClaimOn: true, policies: [{ id: t.policyId, enabled: true }] });
    expect(t.assignLicenses).toHaveBeenCalledWith(expect.objectContaining({ userId: t.userId, remove: [t.skuId] }));
    expect(await t.status()).toBe("reclaimed");
  });

  it("when the claim's policy is disabled or deleted (A5: existing claims stay), then nothing is reclaimed", async () => {
    const t = await idleClaim();

    await t.run({ autoClaimOn: true, policies: [{ id: t.policyId, enabled: false }] });
    await t.run({ autoClaimOn: true, policies: [{ id: randomUUID(), enabled: true }] });

    expect(t.assignLicenses).not.toHaveBeenCalled();
    expect(await t.status()).toBe("claimed");
  });

  it("when the tenant sets its own days (A13 per tenant), then they decide: on with the deployment's default off, off (0) with it on, and a claim idle for less than the tenant's days stays", async () => {
    const optedIn = await idleClaim();
    await optedIn.run({ autoClaimOn: true, policies: [{ id: optedIn.policyId, enabled: true }], deploymentDays: 0 });
    expect(optedIn.assignLicenses).not.toHaveBeenCalled(); // deployment off, tenant unset
    await optedIn.run({ autoClaimOn: true, policies: [{ id: optedIn.policyId, enabled: true }], deploymentDays: 0, reclaimAfterDays: 7 });
    expect(optedIn.assignLicenses).toHaveBeenCalledWith(expect.objectContaining({ userId: optedIn.userId, remove: [optedIn.skuId], reason: expect.stringContaining("not used for 7 days") }));
    expect(await optedIn.status()).toBe("reclaimed");

    const optedOut = await idleClaim();
    await optedOut.run({ autoClaimOn: true, policies: [{ id: optedOut.policyId, enabled: true }], deploymentDays: 3, reclaimAfterDays: 0 });
    await optedOut.run({ autoClaimOn: true, policies: [{ id: optedOut.policyId, enabled: true }], deploymentDays: 3, reclaimAfterDays: 30 }); // idle 10 days < 30
    expect(optedOut.assignLicenses).not.toHaveBeenCalled();
    expect(await optedOut.status()).toBe("claimed");
  });
});

describe("A13 reclamation of a license already gone", () => {
  it.each([
    ["the user no longer holds it", new AppError("conflict", "not held", { code: "license-not-assigned" })],
    ["the product left the tenant", new AppError("businessRule", "not the tenant's", { code: "unknown-product" })],
  ])("when %s, then the claim is over: marked reclaimed, not retried at every run", async (_what, refusal) => {
    const t = await idleClaim();
    t.assignLicenses.mockImplementation(() => Promise.reject(refusal));
    await t.run({ autoClaimOn: true, policies: [{ id: t.policyId, enabled: true }] });
    expect(t.assignLicenses).toHaveBeenCalledTimes(1);
    expect(await t.status()).toBe("reclaimed");
  });
});
