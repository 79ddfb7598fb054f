import { randomUUID } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { AppError, businessRule, unavailable } from "../../../shared/errors/app-error.js";
import { newEnvelope, type Envelope } from "../../../shared/queue/envelope.js";
import {
  DEFAULT_RETRY_POLICY,
  TransientError,
  exponentialBackoff,
  processMessage,
  type ProcessDeps,
} from "../../../shared/queue/transient.js";
import { InMemoryFailureStore, RecordingSender, silentLogger } from "./fakes.js";

const NOW = new Date("2026-03-15T10:00:00.000Z");

function setup(overrides: Partial<ProcessDeps> = {}) {
  const sender = new RecordingSender("sign-in-events");
  const failures = new InMemoryFailureStore(() => NOW);
  const deps: ProcessDeps = { sender, failures, log: silentLogger, now: () => NOW, ...overrides };
  return { sender, failures, deps };
}

function envelope(attempt = 1): Envelope {
  const first = newEnvelope({ kind: "sign-in-event", tenantId: randomUUID(), body: { userId: "u1" }, now: new Date("2026-02-28T23:59:00Z") });
  return { ...first, attempt };
}

describe("processMessage", () => {
  it("when the handler succeeds, then the outcome is done and nothing is sent or recorded", async () => {
    const { sender, failures, deps } = setup();
    const message = envelope();
    const handler = vi.fn(() => Promise.resolve());

    const result = await processMessage(message, handler, deps);

    expect(result).toEqual({ outcome: "done", envelope: message });
    expect(handler).toHaveBeenCalledWith(message);
    expect(sender.sent).toHaveLength(0);
    expect(failures.records.size).toBe(0);
  });

  it("when the message arrives as JSON text, then it is parsed into the envelope", async () => {
    const { deps } = setup();
    const message = envelope();
    const handler = vi.fn(() => Promise.resolve());

    await processMessage(JSON.stringify(message), handler, deps);

    expect(handler).toHaveBeenCalledWith(message);
  });

  it("when the handler fails transiently, then the envelope is re-sent with attempt+1, lastError and a delay, and the original completes", async () => {
    const { sender, failures, deps } = setup();
    const message = envelope(2);

    const result = await processMessage(message, () => Promise.reject(unavailable("Graph is down")), deps);

    expect(result.outcome).toBe("retry-scheduled");
    expect(sender.sent).toHaveLength(1);
    const [resent] = sender.sent;
    expect(resent!.envelope).toEqual({
      ...message,
      attempt: 3,
      lastError: { reason: "unavailable: Graph is down", at: NOW.toISOString() },
    });
    expect(resent!.options).toEqual({ delaySeconds: 10 });
    expect(failures.records.size).toBe(0);
  });

  it("when a transient error says how long to wait, then the delay is at least that long", async () => {
    const { sender, deps } = setup();

    await processMessage(envelope(1), () => Promise.reject(new AppError("tooManyRequests", "slow down", { retryAfterSeconds: 42 })), deps);

    expect(sender.sent[0]!.options).toEqual({ delaySeconds: 42 });
  });

  it("when a plain error is marked transient, then it is retried like an AppError", async () => {
    const { sender, deps } = setup();

    const result = await processMessage(envelope(1), () => Promise.reject(new TransientError("socket hang up")), deps);

    expect(result.outcome).toBe("retry-scheduled");
    expect(sender.sent[0]!.envelope.lastError?.reason).toBe("socket hang up");
  });

  it("when the transient failure happens at maxAttempts, then a failure is recorded instead of a retry", async () => {
    const { sender, failures, deps } = setup({ policy: { maxAttempts: 3 } });
    const message = envelope(3);

    const result = await processMessage(message, () => Promise.reject(unavailable("Cosmos DB is unavailable")), deps);

    expect(result.outcome).toBe("failed");
    expect(sender.sent).toHaveLength(0);
    const stored = await failures.get(`sign-in-event:${message.id}`);
    expect(stored).toMatchObject({
      tenantId: message.tenantId,
      kind: "sign-in-event",
      reason: "gave up after 3 attempts: unavailable: Cosmos DB is unavailable",
      attempts: 3,
      envelope: message,
      transport: "storage-queue",
      queue: "sign-in-events",
      // partitioned by the month the work was first enqueued, not the month it failed
      partitionKey: `${message.tenantId}|202602`,
    });
  });

  it("when the handler fails permanently, then the failure is recorded with its reason and nothing is re-sent", async () => {
    const { sender, failures, deps } = setup();
    const message = envelope();

    const result = await processMessage(message, () => Promise.reject(businessRule("no-license", "No license available")), deps);

    expect(result).toMatchObject({ outcome: "failed", reason: "no-license: No license available", envelope: message });
    expect(sender.sent).toHaveLength(0);
    expect([...failures.records.values()]).toEqual([expect.objectContaining({ reason: "no-license: No license available", attempts: 1 })]);
  });

  it("when the handler's body schema refuses the body, then it is a permanent failure", async () => {
    const { failures, deps } = setup();
    const bodySchema = z.object({ userId: z.uuid() });

    const result = await processMessage(envelope(), (e) => Promise.resolve(void bodySchema.parse(e.body)), deps);

    expect(result.outcome).toBe("failed");
    expect([...failures.records.values()][0]!.reason).toMatch(/^invalid message body: .*userId/s);
  });

  it("when the same failing message is delivered twice, then one failure record exists", async () => {
    const { failures, deps } = setup();
    const message = envelope();
    const fail = () => Promise.reject(businessRule("user-blocked", "User is blocked"));

    await processMessage(message, fail, deps);
    await processMessage(message, fail, deps);

    expect(failures.records.size).toBe(1);
  });

  it("when the message is not JSON, then it is recorded with its raw content and completed", async () => {
    const { failures, deps } = setup();
    const handler = vi.fn(() => Promise.resolve());

    const result = await processMessage("{not json", handler, deps);

    expect(result.outcome).toBe("failed");
    expect(handler).not.toHaveBeenCalled();
    const [record] = [...failures.records.values()];
    expect(record).toMatchObject({ raw: "{not json", tenantId: "unknown", kind: "unknown" });
    expect(record!.reason).toMatch(/^malformed message: not JSON/);
  });

  it("when the JSON is not an envelope, then it is recorded with the schema issues and the tenant it names", async () => {
    const { failures, deps } = setup();
    const tenantId = randomUUID();
    const raw = { id: "x", kind: "sign-in-event", tenantId, attempt: 0 };

    await processMessage(raw, () => Promise.resolve(), deps);

    const [record] = [...failures.records.values()];
    expect(record).toMatchObject({ raw: JSON.stringify(raw), tenantId });
    expect(record!.reason).toMatch(/attempt/);
  });

  it("when the handler throws an unknown error, then it is rethrown and nothing is recorded", async () => {
    const { sender, failures, deps } = setup();
    const bug = new TypeError("cannot read properties of undefined");

    await expect(processMessage(envelope(), () => Promise.reject(bug), deps)).rejects.toBe(bug);
    expect(sender.sent).toHaveLength(0);
    expect(failures.records.size).toBe(0);
  });

  it("when re-sending the retry fails, then the error is rethrown so the host retries the original", async () => {
    const { sender, failures, deps } = setup();
    sender.failWith = unavailable("queue is down");

    await expect(processMessage(envelope(), () => Promise.reject(unavailable("Graph is down")), deps)).rejects.toThrow("queue is down");
    expect(failures.records.size).toBe(0);
  });
});

describe("retry delays", () => {
  it("when attempts grow, then the delay doubles from 5 s up to a 60 s cap", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(DEFAULT_RETRY_POLICY.delaySeconds)).toEqual([5, 10, 20, 40, 60, 60, 60]);
    expect(DEFAULT_RETRY_POLICY.maxAttempts).toBe(8);
    expect(exponentialBackoff({ initialSeconds: 1, maxSeconds: 3 })(5)).toBe(3);
  });
});
