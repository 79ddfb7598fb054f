import { describe, expect, it } from "vitest";
import { directLicenses, groupLicenses } from "../../../shared/licenses/license-state.js";
import { planChange } from "../../../shared/licenses/plan.js";
import { dependsOnReadLag, READ_LAG_MS, recentWrite, withRecentWrite } from "../../../shared/licenses/recent-writes.js";
import { catalog, direct, inherited, P, S, user } from "./fixtures.js";

/**
 * L3 under Graph's read lag: a read that still shows the licenses a recent write replaced is
 * planned on as the write left them; any other read is planned on as read.
 */
const t0 = Date.parse("2026-12-07T10:00:00Z");
const held = (u: ReturnType<typeof user>) => Object.fromEntries(directLicenses(u));
const admin = { type: "user" as const, id: "admin", directoryRoles: ["License Administrator" as const] };

describe("recent writes (Graph read lag)", () => {
  const before = user([direct(S.exPlan1)]);
  // E3 added with Teams off.
  const write = recentWrite(before, { addLicenses: [{ skuId: S.e3, disabledPlans: [P.teams] }], removeLicenses: [] }, undefined, t0);

  const planOf = (change: { add?: { skuId: string; disabledPlans?: string[] }[]; remove?: string[] }) => (u: ReturnType<typeof user>) =>
    planChange({ user: u, change: { userId: u.id, ...change }, mode: "add", catalog, rules: { mutuallyExclusive: [], prerequisites: [] }, actor: admin });

  it("when a read within the lag shows the licenses as they were before the write, then the user as written has the write's licenses", () => {
    expect(held(withRecentWrite(before, write, t0 + 10_000))).toEqual({ [S.exPlan1]: [], [S.e3]: [P.teams] });
  });

  it("when such a read would have the change re-send what the write assigned with other plans, then the change depends on the lag (it must wait): Teams would be switched back on", () => {
    expect(dependsOnReadLag(before, write, planOf({ add: [{ skuId: S.e3, disabledPlans: [] }] }), t0 + 10_000)).toBe(true);
  });

  it("when the change would leave the user the same either way, then it does not depend on the lag: the same plans, or a product the write did not touch", () => {
    expect(dependsOnReadLag(before, write, planOf({ add: [{ skuId: S.e3, disabledPlans: [P.teams] }] }), t0 + 10_000)).toBe(false);
    expect(dependsOnReadLag(before, write, planOf({ add: [{ skuId: S.apps }] }), t0 + 10_000)).toBe(false);
    expect(dependsOnReadLag(before, write, planOf({ remove: [S.exPlan1] }), t0 + 10_000)).toBe(false);
  });

  it("when the change would remove what the write took away (Graph would refuse it), then it depends on the lag", () => {
    const read = user([direct(S.e3), direct(S.apps)]);
    const removal = recentWrite(read, { addLicenses: [], removeLicenses: [S.apps] }, undefined, t0);
    expect(dependsOnReadLag(read, removal, planOf({ remove: [S.apps] }), t0 + 1_000)).toBe(true);
  });

  it("when the read shows the write, or another state (a change made elsewhere since), then it is used as read", () => {
    const written = user([direct(S.exPlan1), direct(S.e3, [P.teams])]);
    expect(withRecentWrite(written, write, t0 + 10_000)).toBe(written);
    const elsewhere = user([direct(S.phone)]);
    expect(withRecentWrite(elsewhere, write, t0 + 10_000)).toBe(elsewhere);
  });

  it("when the write is older than the lag window, then the read is used as read", () => {
    expect(withRecentWrite(before, write, t0 + READ_LAG_MS + 1)).toBe(before);
  });

  it("when the write removed a license, then a lagging read that still shows it is planned on without it; inherited licenses stay as read", () => {
    const read = user([direct(S.e3), direct(S.apps), inherited(S.apps, "g1")]);
    const removal = recentWrite(read, { addLicenses: [], removeLicenses: [S.apps] }, undefined, t0);
    const seen = withRecentWrite(read, removal, t0 + 1_000);
    expect(held(seen)).toEqual({ [S.e3]: [] });
    expect(Object.fromEntries(groupLicenses(seen))).toEqual({ [S.apps]: ["g1"] });
    expect(seen.assignedLicenses.map((l) => l.skuId).sort()).toEqual([S.apps, S.e3].sort());
  });

  it("when writes follow each other, then a read lagging both is planned on as the last one left the user", () => {
    const second = user([direct(S.exPlan1), direct(S.e3, [P.teams])]);
    const next = recentWrite(second, { addLicenses: [{ skuId: S.e3, disabledPlans: [P.teams, P.exA] }], removeLicenses: [S.exPlan1] }, write, t0 + 5_000);
    expect(next.before).toHaveLength(2);
    expect(held(withRecentWrite(before, next, t0 + 6_000))).toEqual({ [S.e3]: [P.exA, P.teams].sort() });
    expect(held(withRecentWrite(second, next, t0 + 6_000))).toEqual({ [S.e3]: [P.exA, P.teams].sort() });
  });

  it("when a second write goes on while the read still lags the first (its outcome did not depend on it), then its record keeps the first: a read lagging both still makes a re-send of the first's product wait", () => {
    // Change 2 adds Power Apps, planned on the read that does not show E3 yet; recorded as the change planned it (assign.ts noteWrite).
    const second = recentWrite(withRecentWrite(before, write, t0 + 5_000), { addLicenses: [{ skuId: S.apps, disabledPlans: [] }], removeLicenses: [] }, write, t0 + 5_000);
    expect(second.after).toEqual({ [S.exPlan1]: [], [S.e3]: [P.teams], [S.apps]: [] });
    expect(second.before).toEqual([{ [S.exPlan1]: [] }, { [S.exPlan1]: [], [S.e3]: [P.teams] }]);
    // Change 3 re-adds E3 with every plan on: whether its read lags both writes or only the second, it waits.
    expect(dependsOnReadLag(before, second, planOf({ add: [{ skuId: S.e3, disabledPlans: [] }] }), t0 + 6_000)).toBe(true);
    expect(dependsOnReadLag(user([direct(S.exPlan1), direct(S.e3, [P.teams])]), second, planOf({ add: [{ skuId: S.e3, disabledPlans: [] }] }), t0 + 6_000)).toBe(false);
  });

  it("when the earlier write is not what the user showed before the next one, then only the next one's 'before' is kept", () => {
    const elsewhere = user([direct(S.phone)]);
    const next = recentWrite(elsewhere, { addLicenses: [{ skuId: S.apps, disabledPlans: [] }], removeLicenses: [] }, write, t0 + 5_000);
    expect(next.before).toEqual([{ [S.phone]: [] }]);
    expect(withRecentWrite(before, next, t0 + 6_000)).toBe(before);
  });
});
