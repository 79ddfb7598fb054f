import { randomUUID } from "node:crypto";
import type { Container, OperationInput } from "@azure/cosmos";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { AuditLog, auditPartition, type AuditEntry, type AuditRecord } from "../../../shared/audit/audit-log.js";
import { useLocalCosmos } from "../../support/cosmos.js";

const cosmos = useLocalCosmos("audit");
let container: Container;

beforeAll(() => {
  container = cosmos.database.container("audit");
});

const entry = (n: number): AuditEntry => ({
  actor: { type: "user", id: randomUUID() },
  action: "license.assign",
  target: { type: "user", id: `user-${n}` },
  before: { skus: [] },
  after: { skus: ["a"] },
  outcome: "succeeded",
});

/** The audit records each transactional batch carried (each batch also moves the chain head). */
const recordsPerBatch = (batch: { mock: { calls: [OperationInput[], ...unknown[]][] } }) =>
  batch.mock.calls.map((c) => c[0].filter((op) => (op as { resourceBody?: { type?: string } }).resourceBody?.type === "audit").length);

async function chainOf(n: number) {
  const tenantId = randomUUID();
  const log = new AuditLog(container);
  for (let i = 1; i <= n; i++) await log.append(tenantId, entry(i));
  return { tenantId, log };
}

describe("audit trail (P9, L16)", () => {
  it("when records are appended, then they form an unbroken chain with consecutive sequence numbers", async () => {
    const { tenantId, log } = await chainOf(5);
    const records = await log.records(tenantId);
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(records[1]!.prevHash).toBe(records[0]!.hash);
    expect(await log.verify(tenantId)).toMatchObject({ ok: true, count: 5, problems: [] });
  });

  it("when a record is appended, then it and the chain head it leads to are written in one request (one transactional batch): a crash cannot keep one without the other", async () => {
    const { tenantId, log } = await chainOf(2);
    const batch = vi.spyOn(container.items, "batch");
    const create = vi.spyOn(container.items, "create");
    try {
      await log.append(tenantId, entry(3));
      expect(batch).toHaveBeenCalledTimes(1);
      expect(batch.mock.calls[0]![0].map((op) => [op.operationType, (op as { resourceBody?: { type?: string } }).resourceBody?.type])).toEqual([
        ["Create", "audit"],
        ["Upsert", "audit-head"],
      ]);
      expect(create).not.toHaveBeenCalled();
    } finally {
      batch.mockRestore();
      create.mockRestore();
    }
    const { resource: head } = await container.item("head", auditPartition(tenantId, 3)).read<{ seq: number }>();
    expect(head?.seq).toBe(3);
    expect((await log.verify(tenantId)).ok).toBe(true);
  });

  it("when 10 writers in two processes append at once, then every record gets its own sequence number and the chain verifies", async () => {
    const tenantId = randomUUID();
    const logs = [new AuditLog(container), new AuditLog(container)];
    await Promise.all(Array.from({ length: 10 }, (_, i) => logs[i % 2]!.append(tenantId, entry(i))));
    const records = await logs[0]!.records(tenantId);
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect((await logs[1]!.verify(tenantId)).ok).toBe(true);
  });

  it("when two processes append at once across a month boundary (their clocks a moment apart), then the chain has one record per sequence number and verifies", async () => {
    const tenantId = randomUUID();
    const november = new AuditLog(container, () => new Date("2026-11-30T23:59:59.999Z"));
    const december = new AuditLog(container, () => new Date("2026-12-01T00:00:00.001Z"));
    await Promise.all([november.append(tenantId, entry(1)), december.append(tenantId, entry(2)), november.append(tenantId, entry(3)), december.append(tenantId, entry(4))]);
    const records = await november.records(tenantId);
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect((await december.verify(tenantId)).ok).toBe(true);
  });

  it("when one process appends 20 records at once, then they take their sequence numbers in the order they were called (no collisions)", async () => {
    const tenantId = randomUUID();
    const log = new AuditLog(container);
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(tenantId, entry(i))));
    const records = await log.records(tenantId);
    expect(records.map((r) => r.target?.id)).toEqual(Array.from({ length: 20 }, (_, i) => `user-${i}`));
    expect((await log.verify(tenantId)).ok).toBe(true);
  });

  it("when appends are asked for together, then their records are stored in one transactional batch and the chain verifies; appends asked for while it is written form the next run", async () => {
    const tenantId = randomUUID();
    const log = new AuditLog(container);
    const batch = vi.spyOn(container.items, "batch");
    try {
      const first = Array.from({ length: 20 }, (_, i) => log.append(tenantId, entry(i)));
      await new Promise((resolve) => setTimeout(resolve, 1)); // the first run is on its way
      const next = Array.from({ length: 7 }, (_, i) => log.append(tenantId, entry(20 + i)));
      await Promise.all([...first, ...next]);
      expect(recordsPerBatch(batch)).toEqual([20, 7]);
    } finally {
      batch.mockRestore();
    }
    const records = await log.records(tenantId);
    expect(records.map((r) => r.target?.id)).toEqual(Array.from({ length: 27 }, (_, i) => `user-${i}`));
    expect(await log.verify(tenantId)).toMatchObject({ ok: true, count: 27 });
  });

  it("when the records asked for together are larger than one batch may carry, then they go in several runs, in order, and the chain verifies", async () => {
    const tenantId = randomUUID();
    const log = new AuditLog(container);
    const batch = vi.spyOn(container.items, "batch");
    const big = (n: number): AuditEntry => ({ ...entry(n), after: { note: "x".repeat(300_000) } });
    try {
      await Promise.all(Array.from({ length: 5 }, (_, i) => log.append(tenantId, big(i))));
      expect(recordsPerBatch(batch)).toEqual([3, 2]);
    } finally {
      batch.mockRestore();
    }
    expect((await log.records(tenantId)).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect((await log.verify(tenantId)).ok).toBe(true);
  });

  it("when a later run of appends asked for together fails, then the appends stored by the earlier run succeed and only the rest fail", async () => {
    const tenantId = randomUUID();
    const log = new AuditLog(container);
    const big = (n: number): AuditEntry => ({ ...entry(n), after: { note: "x".repeat(300_000) } });
    const original = container.items.batch.bind(container.items);
    let calls = 0;
    const batch = vi
      .spyOn(container.items, "batch")
      .mockImplementation((ops, partitionKey, options) => (++calls === 2 ? Promise.reject(Object.assign(new Error("Service Unavailable"), { code: 503 })) : original(ops, partitionKey, options)));
    let results: PromiseSettledResult<AuditRecord>[];
    try {
      results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => log.append(tenantId, big(i))));
    } finally {
      batch.mockRestore();
    }
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "rejected", "rejected"]);
    expect(results[3]).toMatchObject({ status: "rejected", reason: { kind: "unavailable" } });
    expect((await log.records(tenantId)).map((r) => r.seq)).toEqual([1, 2, 3]);
    expect((await log.verify(tenantId)).ok).toBe(true);
  });

  it("when a run reaches the end of a partition's 100,000 records, then it is split there: each batch stays in one partition", async () => {
    const tenantId = randomUUID();
    // A chain 99,998 records long (only its head is written here).
    await container.items.create({ id: "head", type: "audit-head", tenantId, partitionKey: `${tenantId}|head`, seq: 99_998, hash: "f".repeat(64) });
    const log = new AuditLog(container);
    const batch = vi.spyOn(container.items, "batch");
    try {
      await Promise.all(Array.from({ length: 5 }, (_, i) => log.append(tenantId, entry(i))));
      expect(recordsPerBatch(batch)).toEqual([2, 3]);
    } finally {
      batch.mockRestore();
    }
    const records = await log.records(tenantId);
    expect(records.map((r) => [r.seq, r.partitionKey])).toEqual([
      [99_999, `${tenantId}|seq0`],
      [100_000, `${tenantId}|seq0`],
      [100_001, `${tenantId}|seq1`],
      [100_002, `${tenantId}|seq1`],
      [100_003, `${tenantId}|seq1`],
    ]);
    expect(records[2]!.prevHash).toBe(records[1]!.hash);
    expect(auditPartition(tenantId, 1)).toBe(`${tenantId}|seq0`);
  });

  it("when a record is edited in storage, then verification names it", async () => {
    const { tenantId, log } = await chainOf(4);
    const victim = (await log.records(tenantId))[1]!;
    await container.item(victim.id, victim.partitionKey).replace<AuditRecord>({ ...victim, after: { skus: ["forged"] } });
    const result = await log.verify(tenantId);
    expect(result.ok).toBe(false);
    expect(result.problems).toContainEqual({ seq: 2, problem: expect.stringContaining("altered") as string });
  });

  it("when a record is removed from the middle, then verification reports the gap", async () => {
    const { tenantId, log } = await chainOf(4);
    const victim = (await log.records(tenantId))[2]!;
    await container.item(victim.id, victim.partitionKey).delete();
    const result = await log.verify(tenantId);
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => p.problem).join(" ")).toMatch(/missing|broken/);
  });

  it("when the last record is removed, then verification reports it against the chain head", async () => {
    const { tenantId, log } = await chainOf(3);
    const victim = (await log.records(tenantId))[2]!;
    await container.item(victim.id, victim.partitionKey).delete();
    const result = await log.verify(tenantId);
    expect(result.ok).toBe(false);
    expect(result.problems[0]!.problem).toMatch(/missing at the end/);
  });

  it("when 30 records lie past the chain head (a writer crashed between them, or a restore), then the next writer catches up past them at once", async () => {
    const tenantId = randomUUID();
    const crashed = new AuditLog(container);
    await crashed.append(tenantId, entry(0));
    const headItem = container.item("head", auditPartition(tenantId, 1));
    const { resource: head } = await headItem.read<Record<string, unknown>>();
    await Promise.all(Array.from({ length: 30 }, (_, i) => crashed.append(tenantId, entry(i + 1))));
    await headItem.replace(head!); // records past the head (a writer of an earlier version crashed, or a restore)
    const restarted = new AuditLog(container);
    await restarted.append(tenantId, entry(31));
    expect((await restarted.records(tenantId)).map((r) => r.seq)).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
    expect((await restarted.verify(tenantId)).ok).toBe(true);
  });

  it("when a writer crashed after storing its record but before moving the head, then the next append continues the chain", async () => {
    const { tenantId, log } = await chainOf(2);
    // Simulate the crash: put the head back to seq 1 (as if seq 2's head update never happened).
    const records = await log.records(tenantId);
    const headItem = container.item("head", auditPartition(tenantId, 1));
    const { resource: head } = await headItem.read<Record<string, unknown>>();
    await headItem.replace({ ...head, seq: 1, hash: records[0]!.hash });
    const restarted = new AuditLog(container); // a new process: it knows only what Cosmos holds
    await restarted.append(tenantId, entry(3));
    expect((await log.records(tenantId)).map((r) => r.seq)).toEqual([1, 2, 3]);
    expect((await log.verify(tenantId)).ok).toBe(true);
    const { resource: after } = await headItem.read<{ seq: number }>();
    expect(after?.seq).toBe(3);
  });
});
