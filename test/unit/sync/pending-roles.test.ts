import { describe, expect, it } from "vitest";
import type { FailedAction } from "../../../shared/sync/documents.js";
import { failedUsersAfterRun } from "../../../shared/sync/environment-run.js";
import { planRun, type PlanInput } from "../../../shared/sync/plan.js";
import { markAfterAnswer, owedRoles, pendingRolesMark, pendingRolesOf } from "../../../shared/sync/pending-roles.js";
import { environment, facts, rowFor, user } from "./fixtures.js";

/** D14: default roles an add did not give are owed until the next run, a refresh or an on-demand add gives them. */
const ROLE_A = "aaaaaaaa-0000-4000-8000-000000000001";
const ROLE_B = "aaaaaaaa-0000-4000-8000-000000000002";

function plan(input: Partial<PlanInput> & Pick<PlanInput, "users" | "rows">) {
  return planRun({ environment: environment(), facts: facts(), full: false, drift: new Map(), locks: new Set(), ...input });
}

function mark(userId: string, roleIds: string[]): FailedAction {
  return pendingRolesMark("t", "e", userId, roleIds.map((roleId) => ({ roleId, code: "500", message: `role ${roleId}: boom` })), "2026-12-06T10:00:00Z", "run-1");
}

describe("D14 roles owed to a user this product added", () => {
  it("when an enabled, eligible user whose record matches owes roles, then the plan gives them (and the failed-action mark is not resolved)", () => {
    const alex = user();
    const row = rowFor(alex);
    const p = plan({ users: new Map([[alex.id, alex]]), rows: [row], failed: new Set([alex.id]), pendingRoles: new Map([[alex.id, [ROLE_A]]]) });
    expect(p.actions).toEqual([{ op: "assignRoles", userId: alex.id, systemUserId: row.systemuserid, roleIds: [ROLE_A] }]);
    expect(p.resolvedFailed).toEqual([]);
  });

  it("when the same user also needs a profile update, then both are planned: the roles before the update", () => {
    const alex = user({ jobTitle: "Changed" });
    const row = rowFor(user({ id: alex.id }));
    const p = plan({ users: new Map([[alex.id, alex]]), rows: [row], failed: new Set([alex.id]), pendingRoles: new Map([[alex.id, [ROLE_A]]]) });
    expect(p.actions.map((a) => a.op)).toEqual(["assignRoles", "update"]);
  });

  it("when the user is being disabled, or its record is disabled and stays so, then no role is given and the mark goes", () => {
    const leaver = user({ accountEnabled: false });
    const p1 = plan({ users: new Map([[leaver.id, leaver]]), rows: [rowFor(leaver)], failed: new Set([leaver.id]), pendingRoles: new Map([[leaver.id, [ROLE_A]]]) });
    expect(p1.actions.map((a) => a.op)).toEqual(["disable"]);
    const gone = user({ accountEnabled: false });
    const p2 = plan({ users: new Map([[gone.id, gone]]), rows: [rowFor(gone, { isdisabled: true })], failed: new Set([gone.id]), pendingRoles: new Map([[gone.id, [ROLE_A]]]) });
    expect(p2.actions).toEqual([]);
    expect(p2.resolvedFailed).toEqual([gone.id]);
  });

  it("when a role is no longer one of the environment's default roles, then it is not owed any more", () => {
    const marks = new Map([["u1", mark("u1", [ROLE_A, ROLE_B])], ["u2", mark("u2", [ROLE_B])], ["u3", { ...mark("u3", []), op: "update" }]]);
    expect(pendingRolesOf(marks, [ROLE_A])).toEqual(new Map([["u1", [ROLE_A]]]));
    expect(owedRoles(marks.get("u1") ?? null, [ROLE_B, ROLE_A])).toEqual([ROLE_A, ROLE_B]);
    expect(owedRoles(null, [ROLE_A])).toEqual([]);
  });
});

describe("D14 a mark that owes two things", () => {
  it("when another action of the user is answered first, then the owed roles stay owed; when the roles are given, a failed change stays", () => {
    const owing = mark("u1", [ROLE_A]);
    expect(markAfterAnswer(owing, "update")).toMatchObject({ op: "assignRoles", roleIds: [ROLE_A] });
    expect(markAfterAnswer(owing, "assignRoles")).toBeNull();
    const failedReenable = { ...owing, op: "reenable" };
    expect(markAfterAnswer(failedReenable, "assignRoles")).toMatchObject({ op: "reenable", roleIds: [] });
    expect(markAfterAnswer({ ...failedReenable, roleIds: [] }, "reenable")).toBeNull();
  });

  it("when a run that knew of no failed action finishes, then it does not wipe a mark an on-demand add noted meanwhile", () => {
    expect(failedUsersAfterRun(0, false, 1)).toBe(1);
    expect(failedUsersAfterRun(0, true, 1)).toBe(0);
    expect(failedUsersAfterRun(3, true, 0)).toBe(3);
    expect(failedUsersAfterRun(0, false, undefined)).toBe(0);
  });
});
