import { randomUUID } from "node:crypto";
import type { Container } from "@azure/cosmos";
import { beforeAll, describe, expect, it } from "vitest";
import { AuditLog, type AuditEntry, type AuditRecord } from "../../../shared/audit/audit-log.js";
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

  it("when 10 writers in two processes append at once, then every record gets its own sequence number and the chain verifies", async () => {
    const tenantId = randomUUID();
    const logs = [new AuditLog(container), new AuditLog(container)];
    await Promise.all(Array.from({ length: 10 }, (_, i) => logs[i % 2]!.append(tenantId, entry(i))));
    const records = await logs[0]!.records(tenantId);
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect((await logs[1]!.verify(tenantId)).ok).toBe(true);
  });

  it("when one process appends 20 records at once, then they take their sequence numbers in the order they were called (one at a time, no collisions)", async () => {
    const tenantId = randomUUID();
    const log = new AuditLog(container);
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(tenantId, entry(i))));
    const records = await log.records(tenantId);
    expect(records.map((r) => r.target?.id)).toEqual(Array.from({ length: 20 }, (_, i) => `user-${i}`));
    expect((await log.verify(tenantId)).ok).toBe(true);
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

  it("when a writer crashed after storing its record but before moving the head, then the next append continues the chain", async () => {
    const { tenantId, log } = await chainOf(2);
    // Simulate the crash: put the head back to seq 1 (as if seq 2's head update never happened).
    const records = await log.records(tenantId);
    const { resource: head } = await container.item("head", `${tenantId}|head`).read<Record<string, unknown>>();
    await container.item("head", `${tenantId}|head`).replace({ ...head, seq: 1, hash: records[0]!.hash });
    const restarted = new AuditLog(container); // a new process: it knows only what Cosmos holds
    await restarted.append(tenantId, entry(3));
    expect((await log.records(tenantId)).map((r) => r.seq)).toEqual([1, 2, 3]);
    expect((await log.verify(tenantId)).ok).toBe(true);
    const { resource: after } = await container.item("head", `${tenantId}|head`).read<{ seq: number }>();
    expect(after?.seq).toBe(3);
  });
});
