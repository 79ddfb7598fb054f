import { describe, expect, it } from "vitest";
import type { AuditEntry, AuditLog, AuditRecord } from "../../../shared/audit/audit-log.js";
import { LicenseAssignments } from "../../../shared/licenses/assign.js";
import { systemActor } from "../../../shared/licenses/actor.js";
import type { CatalogService } from "../../../shared/licenses/catalog.js";
import type { AssignLicenseCall, LicensingGraph, UserRead } from "../../../shared/licenses/graph-licensing.js";
import type { LicenseRulesStore } from "../../../shared/licenses/rules.js";
import type { UserChangeLocks } from "../../../shared/licenses/user-locks.js";
import { AppError } from "../../../shared/errors/app-error.js";
import { catalog, direct, S, user } from "./fixtures.js";

/**
 * L16 with the audit trail's writes overlapping Graph: the records of a request stay in order, a
 * batch is sent only once the outcome of the batch before the previous one is stored, and the
 * call answers only once every record is stored.
 */
const userId = (n: number) => `20000000-0000-4000-8000-${String(n).padStart(12, "0")}`;

function setup(locks?: UserChangeLocks) {
  const appended: AuditEntry[] = [];
  const held: (() => void)[] = [];
  let holdOutcomes = true;
  const audit = {
    append: (_tenantId: string, entry: AuditEntry) => {
      appended.push(entry);
      const record = { ...entry, id: `r${appended.length}`, seq: appended.length } as AuditRecord;
      if (entry.phase !== "outcome" || !holdOutcomes) return Promise.resolve(record);
      return new Promise<AuditRecord>((resolve) => held.push(() => resolve(record)));
    },
  } as unknown as AuditLog;
  const sent: AssignLicenseCall[][] = [];
  const graph = {
    readUsers: (ids: readonly string[]) =>
      Promise.resolve(new Map<string, UserRead>(ids.map((id) => [id, { ok: true, user: user(Number(id.slice(-12)) % 10 === 0 ? [direct(S.free)] : [], { id }) }]))),
    assignLicenses: (calls: readonly AssignLicenseCall[]) => {
      sent.push([...calls]);
      return Promise.resolve(new Map(calls.map((c) => [c.userId, { ok: true as const }])));
    },
  } as unknown as LicensingGraph;
  const catalogService = {
    get: () => Promise.resolve({ ...catalog, products: catalog.products.map((p) => (p.skuId === S.free ? { ...p, total: 1000, available: 1000 } : p)) }),
    cached: () => undefined,
    adjustAssigned: () => undefined,
    readSeq: () => 0,
    invalidate: () => undefined,
  } as unknown as CatalogService;
  const rules = { current: () => Promise.resolve({ mutuallyExclusive: [], prerequisites: [] }) } as unknown as LicenseRulesStore;
  const assignments = new LicenseAssignments({ catalog: catalogService, rules, audit, graph: () => graph, ...(locks && { locks }) });
  const release = () => {
    holdOutcomes = false;
    for (const r of held.splice(0)) r();
  };
  return { assignments, appended, sent, held, release };
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 20));

describe("L16 audit trail beside Graph (bulk over several $batches)", () => {
  it("when outcomes are slow to store, then at most one batch runs ahead of them and the call answers only after all are stored", async () => {
    const { assignments, appended, sent, held, release } = setup();
    const users = Array.from({ length: 62 }, (_, i) => userId(i + 1)); // 6 hold the product already: decided before Graph
    let answered = false;
    const call = assignments
      .assignLicensesBulk({ tenantId: "t", actor: systemActor("test"), changes: users.map((u) => ({ userId: u, add: [{ skuId: S.free }] })), mode: "add" })
      .then((r) => ((answered = true), r));
    await flush();
    // Batch 1 and 2 are out; batch 3 waits for the outcome of batch 1 (behind the outcome of the skipped users).
    expect(sent.map((b) => b.length)).toEqual([20, 20]);
    expect(answered).toBe(false);
    expect(held.length).toBeGreaterThan(0);

    release();
    const outcome = await call;
    expect(answered).toBe(true);
    expect(sent.map((b) => b.length)).toEqual([20, 20, 16]);
    expect(appended.map((e) => e.phase)).toEqual(["intent", "outcome", "outcome", "outcome", "outcome"]);
    const userIdsOf = (e: AuditEntry) => (e.context?.userIds as string[] | undefined)?.length;
    expect(appended.slice(1).map(userIdsOf)).toEqual([6, 20, 20, 16]);
    expect(outcome.results.filter((r) => r.outcome === "succeeded")).toHaveLength(56);
  });

  it("when the last outcome is still being stored, then the call has not answered", async () => {
    const { assignments, held, release } = setup();
    let answered = false;
    const call = assignments
      .assignLicensesBulk({ tenantId: "t", actor: systemActor("test"), changes: [{ userId: userId(1), add: [{ skuId: S.free }] }], mode: "add" })
      .then(() => (answered = true));
    await flush();
    expect(held).toHaveLength(1);
    expect(answered).toBe(false);
    release();
    await call;
    expect(answered).toBe(true);
  });
});

describe("L3 across instances: a change whose users' locks are not taken", () => {
  it.each([
    ["another instance holds a user past the wait", new AppError("unavailable", "Another license change of this user is under way on another instance.", { retryAfterSeconds: 5 })],
    ["Cosmos cannot be reached", new AppError("unavailable", "Cosmos DB is unavailable.", { retryAfterSeconds: 10 })],
  ])("when %s, then nothing is sent to Graph and the error says nothing was applied (a claim gives its unit back at once)", async (_why, refusal) => {
    const locks = { acquire: () => Promise.reject(refusal) } as unknown as UserChangeLocks;
    const { assignments, sent } = setup(locks);
    const change = assignments.assignLicensesBulk({ tenantId: "t1", actor: systemActor("test"), changes: [{ userId: userId(1), add: [{ skuId: S.free }] }], mode: "add" });
    await expect(change).rejects.toMatchObject({ kind: "unavailable", message: refusal.message, retryAfterSeconds: refusal.retryAfterSeconds, extensions: { applied: false } });
    expect(sent).toEqual([]);
  });
});
