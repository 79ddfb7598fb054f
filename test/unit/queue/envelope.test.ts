import { describe, expect, it } from "vitest";
import { newEnvelope, nextAttempt, parseEnvelope } from "../../../shared/queue/envelope.js";
import { decodeQueueMessage, encodeQueueMessage } from "../../../shared/queue/storage-queue-sender.js";

describe("envelope", () => {
  it("when created, then it is attempt 1 with a uuid and the enqueue time", () => {
    const envelope = newEnvelope({ kind: "sync-job", tenantId: "t1", body: { environmentId: "e1" }, now: new Date("2026-01-02T03:04:05Z") });

    expect(envelope).toMatchObject({ kind: "sync-job", tenantId: "t1", attempt: 1, firstEnqueuedAt: "2026-01-02T03:04:05.000Z" });
    expect(envelope.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("when an id contains a character Cosmos refuses in ids, then the envelope is refused", () => {
    expect(() => newEnvelope({ id: "a/b", kind: "sign-in-event", tenantId: "t1", body: {} })).toThrow();
  });

  it("when the next attempt is built, then attempt grows and the reason is kept", () => {
    const first = newEnvelope({ kind: "sync-job", tenantId: "t1", body: null });
    const at = new Date("2026-01-02T03:04:05Z");

    expect(nextAttempt(first, "unavailable: down", at)).toEqual({ ...first, attempt: 2, lastError: { reason: "unavailable: down", at: at.toISOString() } });
  });

  it("when bytes or text hold a JSON envelope, then they parse like the object", () => {
    const envelope = newEnvelope({ kind: "sync-job", tenantId: "t1", body: { a: 1 } });
    const text = JSON.stringify(envelope);

    expect(parseEnvelope(text)).toEqual({ ok: true, envelope });
    expect(parseEnvelope(Buffer.from(text))).toEqual({ ok: true, envelope });
  });

  it("when a storage-queue message is encoded, then it is base64 of the JSON and decodes back", () => {
    const envelope = newEnvelope({ kind: "sync-job", tenantId: "t1", body: { a: "é" } });
    const text = encodeQueueMessage(envelope);

    expect(text).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(decodeQueueMessage(text)).toEqual(envelope);
  });
});
