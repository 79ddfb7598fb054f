import { describe, expect, it } from "vitest";
import { decide } from "../../../shared/sync/decide.js";
import { evaluateEligibility } from "../../../shared/sync/eligibility.js";
import { SYSTEMUSER_COLUMNS, systemUserRowSchema, type DirectoryUser, type SystemUserRow } from "../../../shared/sync/model.js";
import { planRun, recordNewerThanSnapshot, SNAPSHOT_READ_MARGIN_MS, type PlanInput } from "../../../shared/sync/plan.js";
import { environment, facts, rowFor, user } from "./fixtures.js";

const readAt = Date.parse("2026-12-01T10:00:00Z");
const at = (offsetMs: number) => new Date(readAt + offsetMs).toISOString();

function plan(input: Partial<PlanInput> & Pick<PlanInput, "users" | "rows">) {
  return planRun({ environment: environment({ type: "Trial" }), facts: facts(), full: true, drift: new Map(), locks: new Set(), snapshotReadAt: readAt, ...input });
}

const usersOf = (...list: DirectoryUser[]) => new Map(list.map((u) => [u.id, u]));
const disabledIds = (rows: SystemUserRow[], p: ReturnType<typeof plan>) =>
  p.actions.filter((a) => a.op === "disable").map((a) => rows.find((r) => r.systemuserid === (a as { systemUserId: string }).systemUserId)?.azureactivedirectoryobjectid);

describe("D4: records of users the snapshot has not seen, on a full plan", () => {
  it("when a record was created after the snapshot's users read and the snapshot has never seen its user, then it is not disabled (skipped: the next cycle judges the user)", () => {
    const newcomer = rowFor(user(), { createdon: at(10 * 60_000) });
    const p = plan({ users: new Map(), rows: [newcomer] });
    expect(p.actions).toEqual([]);
    expect(p.skipped).toBe(1);
  });

  it("when the record is only a little older than the read (clock skew, Graph's delta lag), then it is left too; well before the read, it is disabled", () => {
    const skewed = rowFor(user(), { createdon: at(-SNAPSHOT_READ_MARGIN_MS + 60_000) });
    const old = rowFor(user(), { createdon: at(-SNAPSHOT_READ_MARGIN_MS - 60_000) });
    const rows = [skewed, old];
    expect(disabledIds(rows, plan({ users: new Map(), rows }))).toEqual([old.azureactivedirectoryobjectid]);
  });

  it("when the snapshot knew the user (deleted in Entra since), then a record newer than the read is disabled all the same", () => {
    const deleted = user({ removed: "hard" });
    const rows = [rowFor(deleted, { createdon: at(60_000) })];
    expect(disabledIds(rows, plan({ users: usersOf(deleted), rows }))).toEqual([deleted.id]);
  });

  it("when the record's creation time or the read's is unknown, then the record of an unseen user is disabled (as before)", () => {
    const noCreatedOn = rowFor(user());
    expect(disabledIds([noCreatedOn], plan({ users: new Map(), rows: [noCreatedOn] }))).toHaveLength(1);
    const newer = rowFor(user(), { createdon: at(60_000) });
    expect(disabledIds([newer], plan({ users: new Map(), rows: [newer], snapshotReadAt: null }))).toHaveLength(1);
  });

  it("when decide() is told the record is newer than the snapshot, then it spares only a record without a user", () => {
    const row = rowFor(user());
    const userId = row.azureactivedirectoryobjectid ?? "";
    const eligibility = evaluateEligibility({ user: null, userId, tenant: facts(), environment: environment(), record: { kind: "regular" } });
    expect(decide({ userId, user: null, row, eligibility, internalEmailLocked: false, recordNewerThanSnapshot: true }).action).toBeNull();
    expect(decide({ userId, user: null, row, eligibility, internalEmailLocked: false }).action).toMatchObject({ op: "disable" });
    const removed = user({ id: userId, removed: "hard" });
    expect(recordNewerThanSnapshot({ ...row, createdon: at(60_000) }, removed, readAt)).toBe(false);
    expect(recordNewerThanSnapshot({ ...row, createdon: at(60_000) }, null, readAt)).toBe(true);
  });

  it("when Dataverse is read, then createdon is selected and kept", () => {
    expect(SYSTEMUSER_COLUMNS).toContain("createdon");
    expect(systemUserRowSchema.parse({ systemuserid: "x", createdon: "2026-12-01T10:00:00Z" }).createdon).toBe("2026-12-01T10:00:00Z");
  });
});

describe("users whose action failed, on an incremental plan", () => {
  it("when a user with a failed action is not among the changed users, then it is still judged; a mark whose user needs no action any more is resolved", () => {
    const joiner = user();
    const settled = user();
    const unknown = "0d6d3d8e-5a8f-4f87-9f3a-000000000001";
    const p = plan({
      environment: environment(),
      full: false,
      users: usersOf(joiner, settled),
      rows: [rowFor(settled)],
      failed: new Set([joiner.id, settled.id, unknown]),
    });
    expect(p.actions).toEqual([{ op: "add", userId: joiner.id }]);
    expect(p.resolvedFailed.sort()).toEqual([settled.id, unknown].sort());
  });
});
