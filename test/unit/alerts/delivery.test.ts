import type { Container, PatchOperation } from "@azure/cosmos";
import { describe, expect, it } from "vitest";
import { AlertService, ALERT_ENVELOPE_KIND } from "../../../shared/alerts/alerts.js";
import type { AlertDocument, AlertPayload } from "../../../shared/alerts/model.js";
import type { AlertSettings } from "../../../shared/alerts/settings.js";
import type { WebhookResult } from "../../../shared/alerts/webhook.js";
import { newEnvelope, nextAttempt } from "../../../shared/queue/envelope.js";
import type { QueueSender } from "../../../shared/queue/transport.js";

/** A container holding alert documents, with the point reads and patches delivery uses. */
function memoryContainer(docs: Map<string, Record<string, unknown>>): Container {
  const setPath = (doc: Record<string, unknown>, path: string, f: (old: unknown) => unknown) => {
    const parts = path.split("/").slice(1);
    let target = doc;
    for (const p of parts.slice(0, -1)) target = target[p] as Record<string, unknown>;
    const last = parts.at(-1) as string;
    target[last] = f(target[last]);
  };
  return {
    id: "alerts",
    item: (id: string) => ({
      read: () => Promise.resolve({ resource: docs.get(id), statusCode: docs.has(id) ? 200 : 404 }),
      patch: (ops: PatchOperation[]) => {
        const doc = docs.get(id);
        if (!doc) return Promise.reject(Object.assign(new Error("not found"), { code: 404 }));
        for (const op of ops) {
          const value = (op as { value?: unknown }).value;
          setPath(doc, op.path, (old) => (op.op === "incr" ? (old as number) + (value as number) : value));
        }
        return Promise.resolve({ resource: doc });
      },
    }),
  } as unknown as Container;
}

const TENANT = "5f1c6e2a-7d3b-4c8e-9a41-2b6d0e8f3c17";

function alertDoc(): AlertDocument & { _etag: string } {
  return {
    id: "a1", tenantId: TENANT, docType: "alert", type: "low-stock", occurredAt: "2026-11-24T06:00:00.000Z", product: { skuId: "s", skuPartNumber: "P", displayName: "P" },
    figures: { total: 10, assigned: 9, available: 1, availablePercent: 10, threshold: { count: 2 } }, failure: null, state: "open", resolvedAt: null,
    delivery: { status: "pending", attempts: 0, lastAttemptAt: null, deliveredAt: null, lastError: null }, _etag: "e",
  };
}

function setup(answers: WebhookResult[], settings: AlertSettings = { enabled: true, webhookUrl: "https://hooks.example.com/x", lowStock: {} }) {
  const docs = new Map<string, Record<string, unknown>>([["a1", alertDoc() as unknown as Record<string, unknown>]]);
  const posted: AlertPayload[] = [];
  const service = new AlertService({
    container: memoryContainer(docs),
    queue: {} as QueueSender,
    settings: { current: () => Promise.resolve(settings), currentOrStale: () => Promise.resolve(settings) },
    appEnv: "azure",
    maxAttempts: 3,
    log: { warn: () => undefined },
    post: (_url, payload) => {
      posted.push(payload);
      return Promise.resolve(answers.shift() ?? { ok: true, status: 204 });
    },
  });
  const envelope = newEnvelope({ kind: ALERT_ENVELOPE_KIND, tenantId: TENANT, id: "alert-a1", body: { alertId: "a1" } });
  const delivery = () => (docs.get("a1") as unknown as AlertDocument).delivery;
  return { service, envelope, posted, delivery };
}

describe("L18 alert delivery (queue handler)", () => {
  it("when delivered, then a re-delivered message sends nothing again", async () => {
    const { service, envelope, posted, delivery } = setup([{ ok: true, status: 200 }]);
    await service.deliver(envelope);
    await service.deliver(envelope);
    expect(posted.map((p) => p.id)).toEqual(["a1"]);
    expect(delivery()).toMatchObject({ status: "delivered", attempts: 1, deliveredAt: expect.any(String) as unknown });
  });

  it("when the webhook fails transiently, then the attempt is recorded and the handler throws a transient error (the queue retries)", async () => {
    const { service, envelope, delivery } = setup([{ ok: false, transient: true, reason: "the webhook answered 503" }]);
    await expect(service.deliver(envelope)).rejects.toMatchObject({ transient: true });
    expect(delivery()).toMatchObject({ status: "pending", attempts: 1, lastError: "the webhook answered 503" });
  });

  it("when the last attempt fails too, then the alert is marked failed (kept, listed) instead of retried", async () => {
    const { service, envelope, delivery } = setup([{ ok: false, transient: true, reason: "the webhook answered 503" }]);
    const third = nextAttempt(nextAttempt(envelope, "503", new Date()), "503", new Date());
    await service.deliver(third);
    expect(delivery()).toMatchObject({ status: "failed", lastError: expect.stringMatching(/gave up after 3 attempts/) as unknown });
  });

  it("when the webhook refuses for good, then the alert is failed at once", async () => {
    const { service, envelope, delivery } = setup([{ ok: false, transient: false, reason: "the webhook answered 404" }]);
    await service.deliver(envelope);
    expect(delivery()).toMatchObject({ status: "failed", attempts: 1 });
  });

  it("when alerts were switched off before delivery, then nothing is sent and the alert is skipped", async () => {
    const { service, envelope, posted, delivery } = setup([], { enabled: false, webhookUrl: "https://hooks.example.com/x", lowStock: {} });
    await service.deliver(envelope);
    expect(posted).toEqual([]);
    expect(delivery()).toMatchObject({ status: "skipped", attempts: 0 });
  });
});
