import { describe, expect, it } from "vitest";
import { decide } from "../../../shared/sync/decide.js";
import type { AccessModePin } from "../../../shared/sync/documents.js";
import { evaluateEligibility } from "../../../shared/sync/eligibility.js";
import type { AccessMode, DirectoryUser, SystemUserRow } from "../../../shared/sync/model.js";
import { planRun } from "../../../shared/sync/plan.js";
import { recordKind } from "../../../shared/sync/records.js";
import { environment, facts, rowFor, user } from "./fixtures.js";

/** D8: an access mode an admin chose (a pin) is not switched back by the license. */
function decision(u: DirectoryUser, row: SystemUserRow, accessModePin: AccessMode | null) {
  const eligibility = evaluateEligibility({ user: u, userId: u.id, tenant: facts(), environment: environment(), record: { kind: recordKind(row) } });
  return decide({ userId: u.id, user: u, row, eligibility, internalEmailLocked: false, accessModePin });
}

const pinOf = (userId: string): AccessModePin => ({
  id: `access-mode-pin|${userId}`, type: "access-mode-pin", tenantId: "t", environmentId: "e", partitionKey: "t|env|e", userId, accessMode: "administrative",
  pinnedBy: "admin", pinnedAt: "2026-01-01T00:00:00Z",
});

describe("D8 access-mode pins", () => {
  it("when a licensed user's administrative mode is pinned, then the sync leaves it, and still updates changed fields", () => {
    const u = user({ jobTitle: "New title" });
    const row = rowFor(u, { accessmode: 1, title: "Old title" });
    expect(decision(u, row, null).action).toMatchObject({ op: "update", patch: { accessmode: 0 } });
    const pinned = decision(u, row, "administrative").action;
    expect(pinned).toMatchObject({ op: "update", patch: { title: "New title" } });
    expect(pinned?.op === "update" && "accessmode" in pinned.patch).toBe(false);
  });

  it("when a pinned user stops being eligible, then the record is still disabled (D3)", () => {
    const u = user();
    expect(decision({ ...u, groups: [] }, rowFor(u, { accessmode: 1 }), "administrative").action).toMatchObject({ op: "disable" });
  });

  it("when something reset a pinned user's mode (an addUser gives read-write), then the sync sets the pinned mode again", () => {
    const u = user();
    expect(decision(u, rowFor(u, { accessmode: 0 }), "administrative").action).toMatchObject({ op: "update", patch: { accessmode: 1 } });
    expect(decision(u, rowFor(u, { accessmode: 0 }), null).action).toBeNull();
  });

  it("when a disabled pinned user is eligible again, then the re-enable carries the pinned mode to set after addUser", () => {
    const u = user();
    expect(decision(u, rowFor(u, { isdisabled: true, accessmode: 1 }), "administrative").action).toMatchObject({ op: "reenable", accessMode: 1 });
    expect(decision(u, rowFor(u, { isdisabled: true, accessmode: 1 }), null).action).not.toHaveProperty("accessMode");
  });

  it("when a run plans a pinned user, then its access mode is left alone; an unpinned one is switched", () => {
    const pinned = user();
    const free = user();
    const rows = [rowFor(pinned, { accessmode: 1 }), rowFor(free, { accessmode: 1 })];
    const users = new Map([[pinned.id, pinned], [free.id, free]]);
    const plan = planRun({ environment: environment(), facts: facts(), users, rows, full: true, drift: new Map(), locks: new Set(), pins: new Map([[pinned.id, pinOf(pinned.id)]]) });
    expect(plan.actions).toEqual([expect.objectContaining({ op: "update", userId: free.id, patch: { accessmode: 0 } })]);
  });
});
