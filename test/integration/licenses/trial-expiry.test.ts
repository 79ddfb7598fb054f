import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEMO_SKUS, demoUserId } from "../../../local/sim-cloud/demo-tenant.js";
import type { LicensingFailureInput } from "../../../shared/alerts/alerts.js";
import { expireTrials, type TrialExpiryDeps } from "../../../shared/licenses/trial-expiry.js";
import { TenantSettings } from "../../../shared/settings/tenant-settings.js";
import { auditOf, inProcessLicensing, startLicenseStack, type LicenseStack } from "./support.js";

/**
 * L11 against the simulated cloud: the demo tenant's direct trials (Power Apps Plan 2 Trial, users
 * n % 17 == 0) were assigned on 2025-12-01T10:00:00Z, so they expire on 2026-03-01T10:00:00Z.
 * The use-case runs in the test process (its clock is a parameter); the timer runs in the host.
 */
let s: LicenseStack;
const TRIAL_USER = demoUserId(17);
const ASSIGNED = "2025-12-01T10:00:00Z";
const EXPIRES = "2026-03-01T10:00:00.000Z";

beforeAll(async () => {
  s = await startLicenseStack();
});
afterAll(async () => {
  await s?.stop();
});
beforeEach(async () => {
  await s.resetSim();
  await setPaused(false);
});

function deps(): TrialExpiryDeps {
  const l = inProcessLicensing(s);
  const settings = new TenantSettings(s.stack.database.container("settings"));
  return {
    catalog: l.catalog,
    assignments: l.assignments,
    graph: (t) => l.graph(t, "background"),
    isPaused: async (t) => (await settings.get(t, "automation")).value.paused,
  };
}

async function setPaused(paused: boolean): Promise<void> {
  const admin = ["Global Administrator"] as const;
  const current = await s.api("settings/automation", { roles: [...admin] });
  const res = await s.api("settings/automation", { method: "PUT", roles: [...admin], headers: { "If-Match": current.headers.get("etag")! }, body: { paused } });
  expect(res.status).toBe(200);
}

async function trialOf(userId: string) {
  const res = await s.api(`users/${userId}/licenses`);
  const { licenses } = (await res.json()) as { licenses: { skuId: string; assignedDateTime: string | null; trial: { expiresAt: string; expired: boolean } | null }[] };
  return licenses.find((l) => l.skuId === DEMO_SKUS.powerAppsTrial);
}

describe("L11 trial expiry", () => {
  it("when 90 days have not passed, then the trial stays, and the user's licenses show when it expires", async () => {
    const report = await expireTrials(deps(), s.tenantId, new Date("2026-03-01T09:59:59Z"));
    expect(report.expired).toEqual([]);
    const trial = await trialOf(TRIAL_USER);
    expect(trial).toMatchObject({ assignedDateTime: ASSIGNED, trial: { expiresAt: EXPIRES } });
  });

  it("when 90 days have passed, then direct trials are removed with an audited reason, and inherited ones are left to their group", async () => {
    await s.sim("POST", "groups", {
      id: "7e57a1a1-0000-4000-8000-000000000001", displayName: "Trial group", members: [demoUserId(20)],
      assignedLicenses: [{ skuId: DEMO_SKUS.powerAppsTrial, disabledPlans: [] }],
    });
    const report = await expireTrials(deps(), s.tenantId, new Date("2026-03-01T10:00:01Z"));
    expect(report.expired).toContainEqual({ userId: TRIAL_USER, skuId: DEMO_SKUS.powerAppsTrial, assignedDateTime: ASSIGNED });
    expect(report.expired.length).toBeGreaterThanOrEqual(10);
    expect(report.failed).toEqual([]);
    expect(report.skipped).toContainEqual(expect.objectContaining({ userId: demoUserId(20), skuId: DEMO_SKUS.powerAppsTrial }));
    expect(await trialOf(TRIAL_USER)).toBeUndefined();
    expect(await trialOf(demoUserId(20))).toBeDefined();
    const outcome = (await auditOf(s, TRIAL_USER)).find((r) => r.phase === "outcome");
    expect(outcome).toMatchObject({ actor: { type: "system", id: "trial-expiry" }, outcome: "succeeded" });
    const intent = (await auditOf(s, TRIAL_USER)).find((r) => r.phase === "intent");
    expect(intent?.reason).toMatch(/trial expired/);
  });

  it("when an inherited trial is past its 90 days, then it is left to its group and an alert names the group and its users (L18)", async () => {
    const groupId = "7e57a1a1-0000-4000-8000-000000000002";
    await s.sim("POST", "groups", { id: groupId, displayName: "Trial group", members: [demoUserId(20)], assignedLicenses: [{ skuId: DEMO_SKUS.powerAppsTrial, disabledPlans: [] }] });
    const alerts: LicensingFailureInput[] = [];
    const later = new Date(Date.now() + 91 * 24 * 3600_000);
    const report = await expireTrials({ ...deps(), alert: (a) => (alerts.push(a), Promise.resolve()) }, s.tenantId, later);
    expect(report.skipped).toContainEqual(expect.objectContaining({ userId: demoUserId(20), skuId: DEMO_SKUS.powerAppsTrial }));
    expect(alerts).toEqual([expect.objectContaining({ source: "trial-expiry", code: "trial-expired-inherited", groupId, userIds: [demoUserId(20)], product: expect.objectContaining({ skuId: DEMO_SKUS.powerAppsTrial }) })]);
    expect(alerts[0]?.message).toMatch(/remove the license from the group/);
    expect(alerts[0]?.message, "the group by its name").toContain(`"Trial group" (${groupId})`);
    expect(await trialOf(demoUserId(20))).toBeDefined();
  });

  it("when a user holds an expired trial both directly and through a group, then the direct one is removed and an alert names the group that keeps it", async () => {
    const groupId = "7e57a1a1-0000-4000-8000-000000000003";
    await s.sim("POST", "groups", { id: groupId, displayName: "Trial group 3", members: [TRIAL_USER], assignedLicenses: [{ skuId: DEMO_SKUS.powerAppsTrial, disabledPlans: [] }] });
    const alerts: LicensingFailureInput[] = [];
    const report = await expireTrials({ ...deps(), alert: (a) => (alerts.push(a), Promise.resolve()) }, s.tenantId, new Date(Date.now() + 91 * 24 * 3600_000));
    expect(report.expired).toContainEqual(expect.objectContaining({ userId: TRIAL_USER, skuId: DEMO_SKUS.powerAppsTrial }));
    expect(alerts).toContainEqual(expect.objectContaining({ code: "trial-expired-inherited", groupId, userIds: [TRIAL_USER] }));
  });

  it("when automation is paused at the nightly run, then nothing is removed; resuming removes them at once (P11), not at the next nightly run", async () => {
    await setPaused(true);
    const paused = await expireTrials(deps(), s.tenantId, new Date());
    expect(paused).toMatchObject({ paused: true, expired: [] });
    // The nightly run in the host finds the tenant paused and notes what it skipped.
    const note = () => s.stack.database.container("settings").item("skipped-while-paused:trialExpiry", s.tenantId).read().then((r) => r.resource as unknown);
    expect(await note()).toBeUndefined();
    const nightly = await fetch(`${s.stack.hostUrl}/admin/functions/trial-expiry-timer`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(nightly.status).toBe(202);
    const noted = Date.now() + 30_000;
    while (!(await note()) && Date.now() < noted) await new Promise((r) => setTimeout(r, 100));
    expect(await note()).toBeDefined();
    expect(await trialOf(TRIAL_USER)).toBeDefined();
    const seqBefore = Math.max(0, ...(await auditOf(s, TRIAL_USER)).map((r) => r.seq));
    await setPaused(false);
    // The resume's message runs the skipped work in the host (its clock: today, past the 90 days).
    const outcome = async () => (await auditOf(s, TRIAL_USER)).find((r) => r.seq > seqBefore && r.phase === "outcome");
    const deadline = Date.now() + 30_000;
    while (!(await outcome()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await outcome()).toMatchObject({ actor: { type: "system", id: "trial-expiry" }, outcome: "succeeded" });
    expect(await trialOf(TRIAL_USER)).toBeUndefined();
    // The host's run is over when no direct trial is left (the next test starts from a reset tenant, not a half-run one).
    const trialsLeft = async () => (await s.sim<{ skus: { skuId: string; consumedUnits: number }[] }>("GET", "summary")).skus.find((k) => k.skuId === DEMO_SKUS.powerAppsTrial)?.consumedUnits;
    while ((await trialsLeft()) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await trialsLeft()).toBe(0);
    // Done: the note goes, so the next resume runs nothing the pause did not skip.
    while ((await note()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await note()).toBeUndefined();
  });

  it("when the timer function runs in the host, then trials past 90 days today are removed", async () => {
    const run = await fetch(`${s.stack.hostUrl}/admin/functions/trial-expiry-timer`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(run.status).toBe(202);
    const deadline = Date.now() + 30_000;
    // The host answers 202 at once: wait for the change itself, each check a round trip.
    while ((await trialOf(TRIAL_USER)) !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await trialOf(TRIAL_USER)).toBeUndefined();
  });
});
