import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decide } from "../../../shared/sync/decide.js";
import { evaluateEligibility } from "../../../shared/sync/eligibility.js";
import type { DirectoryUser, SystemUserRow, TenantFacts } from "../../../shared/sync/model.js";
import { planRun } from "../../../shared/sync/plan.js";
import { recordKind } from "../../../shared/sync/records.js";
import { environment, facts, rowFor, user } from "./fixtures.js";

function decision(u: DirectoryUser | null, row: SystemUserRow | null, tenant: TenantFacts = facts(), env = environment()) {
  const userId = u?.id ?? row?.azureactivedirectoryobjectid ?? randomUUID();
  const eligibility = evaluateEligibility({ user: u, userId, tenant, environment: env, record: row ? { kind: recordKind(row) } : null });
  return decide({ userId, user: u, row, eligibility, internalEmailLocked: false });
}

describe("D3 disable, never delete", () => {
  it("when a synced user stops being eligible, then the record is disabled (a PATCH), never deleted", () => {
    const u = user();
    const row = rowFor(u);
    const d = decision({ ...u, groups: [] }, row);
    expect(d.action).toEqual({ op: "disable", userId: u.id, systemUserId: row.systemuserid, failedRules: ["D2.securityGroup"] });
  });

  it("when the user is deleted in Entra, then the record is disabled with the deletion as the reason", () => {
    const u = user();
    const row = rowFor(u);
    expect(decision(null, row).action).toMatchObject({ op: "disable", failedRules: expect.arrayContaining(["D2.notDeleted"]) });
    expect(decision({ ...u, removed: "soft" }, row).action).toMatchObject({ op: "disable" });
  });

  it("when the user is deleted, then the deletion is the only user rule given as the reason (its account, licenses and groups are moot)", () => {
    const u = user();
    const row = rowFor(u);
    expect(decision(null, row).action).toMatchObject({ failedRules: ["D2.notDeleted"] });
    expect(decision({ ...u, removed: "hard", groups: [], accountEnabled: false }, row).action).toMatchObject({ failedRules: ["D2.notDeleted"] });
  });

  it("when a disabled record's user is eligible again, then it is re-enabled (through addUser)", () => {
    const u = user();
    const row = rowFor(u, { isdisabled: true });
    expect(decision(u, row).action).toEqual({ op: "reenable", userId: u.id, systemUserId: row.systemuserid });
  });

  it("when a disabled record's user is still not eligible, then nothing happens (no delete, no re-enable)", () => {
    const u = user({ accountEnabled: false });
    expect(decision(u, rowFor(u, { isdisabled: true })).action).toBeNull();
  });

  it("when an eligible user has no record, then it is added (through addUser)", () => {
    const u = user();
    expect(decision(u, null).action).toEqual({ op: "add", userId: u.id });
  });

  it("when the only difference is a profile field, then only that field is updated", () => {
    const u = user();
    const row = rowFor(u, { title: "Old title" });
    expect(decision(u, row).action).toEqual({ op: "update", userId: u.id, systemUserId: row.systemuserid, patch: { title: u.jobTitle } });
  });
});

describe("D5 in the periodic sync", () => {
  it("when a Trial environment's eligible user has no record, then the sync does not add it (skipped: on demand only) but keeps existing ones", () => {
    const env = environment({ type: "Trial" });
    const u = user();
    const d = decision(u, null, facts(), env);
    expect(d.action).toBeNull();
    expect(d.skipped).toMatch(/on-demand/);
    expect(decision({ ...u, title: "x" } as DirectoryUser, rowFor(u, { title: "y" }), facts(), env).action?.op).toBe("update");
  });

  it("when a Teams environment's member has no record, then the sync does not add it", () => {
    expect(decision(user(), null, facts(), environment({ type: "Teams" })).action).toBeNull();
  });
});

describe("D7 record types the directory sync never touches", () => {
  it("when an application user's object id is not a user, then it is not disabled (nor anything else)", () => {
    const servicePrincipal = randomUUID();
    const row: SystemUserRow = { ...rowFor(user({ id: servicePrincipal })), applicationid: randomUUID(), accessmode: 4 };
    expect(recordKind(row)).toBe("application");
    expect(decision(null, row).action).toBeNull();
  });

  it.each([
    ["support user", 3, "supportUser"],
    ["delegated admin", 5, "delegatedAdmin"],
  ] as const)("when a %s record's object id is unknown to Entra, then it is untouched", (_name, accessmode, kind) => {
    const row = { ...rowFor(user()), accessmode };
    expect(recordKind(row)).toBe(kind);
    expect(decision(null, row).action).toBeNull();
  });

  it("when a stub user (imported, no Entra identity) is disabled, then it is never enabled", () => {
    const row = { ...rowFor(user()), azureactivedirectoryobjectid: null, isdisabled: true };
    expect(recordKind(row)).toBe("stub");
    expect(decision(null, row).action).toBeNull();
  });

  it("when a full reconcile meets application, support and delegated-admin records, then the plan has no action for them", () => {
    const env = environment();
    const regular = user();
    const rows = [
      rowFor(regular),
      { ...rowFor(user()), applicationid: randomUUID(), accessmode: 4 },
      { ...rowFor(user()), accessmode: 3 },
      { ...rowFor(user()), accessmode: 5 },
    ];
    const plan = planRun({ environment: env, facts: facts(), users: new Map([[regular.id, regular]]), rows, full: true, drift: new Map(), locks: new Set() });
    expect(plan.actions).toEqual([]);
    expect(plan.read).toBe(1);
  });
});

describe("D8 access modes in the sync", () => {
  it("when an administrator without a license has a read-write record, then the sync switches it to administrative", () => {
    const u = user({ licenses: [] });
    const row = rowFor(u, { accessmode: 0 });
    const tenant = facts({ admins: { global: [u.id], powerPlatform: [], dynamics: [] } });
    expect(decision(u, row, tenant).action).toMatchObject({ op: "update", patch: { accessmode: 1 } });
  });

  it("when an administrator without a license is added or re-enabled, then administrative is set right after addUser (which gives read-write), not a run later", () => {
    const u = user({ licenses: [] });
    const tenant = facts({ admins: { global: [u.id], powerPlatform: [], dynamics: [] } });
    expect(decision(u, null, tenant).action).toEqual({ op: "add", userId: u.id, accessMode: 1 });
    const row = rowFor(u, { isdisabled: true, accessmode: 0 });
    expect(decision(u, row, tenant).action).toEqual({ op: "reenable", userId: u.id, systemUserId: row.systemuserid, accessMode: 1 });
  });

  it("when a licensed user has an administrative record, then the sync switches it to read-write", () => {
    const u = user();
    expect(decision(u, rowFor(u, { accessmode: 1 })).action).toMatchObject({ op: "update", patch: { accessmode: 0 } });
  });

  it("when a record is non-interactive, then the sync leaves its access mode alone", () => {
    const u = user({ licenses: [] });
    expect(decision(u, rowFor(u, { accessmode: 4 })).action).toBeNull();
  });
});
