import type { Container, PatchOperation } from "@azure/cosmos";
import { describe, expect, it } from "vitest";
import { AlertService } from "../../../shared/alerts/alerts.js";
import type { AlertDocument } from "../../../shared/alerts/model.js";
import type { AlertSettings } from "../../../shared/alerts/settings.js";
import type { Envelope } from "../../../shared/queue/envelope.js";
import type { QueueSender } from "../../../shared/queue/transport.js";

type Doc = Record<string, unknown> & { id: string; _etag: string };

/** The alerts container with what raising uses: create (409 on a taken id), read, replace with If-Match, patch. */
function memoryContainer(): { container: Container; docs: Map<string, Doc> } {
  const docs = new Map<string, Doc>();
  let etag = 0;
  const stored = (doc: Record<string, unknown>): Doc => ({ ...structuredClone(doc), _etag: `"${++etag}"` }) as Doc;
  const cosmosError = (code: number) => Object.assign(new Error(`status ${code}`), { code });
  const container = {
    id: "alerts",
    items: {
      create: (doc: Doc) => {
        if (docs.has(doc.id)) return Promise.reject(cosmosError(409));
        docs.set(doc.id, stored(doc));
        return Promise.resolve({ resource: docs.get(doc.id) });
      },
    },
    item: (id: string) => ({
      read: () => Promise.resolve({ resource: docs.get(id), statusCode: docs.has(id) ? 200 : 404 }),
      replace: (doc: Doc, options: { accessCondition?: { condition: string } }) => {
        const current = docs.get(id);
        if (!current) return Promise.reject(cosmosError(404));
        if (options.accessCondition && options.accessCondition.condition !== current._etag) return Promise.reject(cosmosError(412));
        docs.set(id, stored(doc));
        return Promise.resolve({ resource: docs.get(id) });
      },
      patch: (ops: PatchOperation[]) => {
        const doc = docs.get(id);
        if (!doc) return Promise.reject(cosmosError(404));
        for (const op of ops) {
          const parts = op.path.split("/").slice(1);
          let target: Record<string, unknown> = doc;
          for (const p of parts.slice(0, -1)) target = target[p] as Record<string, unknown>;
          const last = parts.at(-1) as string;
          const value = (op as { value?: unknown }).value;
          target[last] = op.op === "incr" ? (target[last] as number) + (value as number) : value;
        }
        return Promise.resolve({ resource: doc });
      },
    }),
  } as unknown as Container;
  return { container, docs };
}

function setup() {
  const { container, docs } = memoryContainer();
  const sent: Envelope[] = [];
  const queue = { transport: "storage-queue", queueName: "events", send: (e: Envelope) => (sent.push(e), Promise.resolve()), close: () => Promise.resolve() } as QueueSender;
  const settings: AlertSettings = { enabled: true, webhookUrl: "https://hooks.example.com/x", lowStock: {} };
  let now = new Date("2026-11-24T06:50:00.000Z");
  /** One process's alert service; several share the container as app instances share Cosmos. */
  const instance = () =>
    new AlertService({
      container, queue, appEnv: "azure", maxAttempts: 8, now: () => now, log: { warn: () => undefined },
      settings: { current: () => Promise.resolve(settings), currentOrStale: () => Promise.resolve(settings) },
    });
  const service = instance();
  const alerts = () => [...docs.values()].filter((d) => d.docType === "alert") as unknown as AlertDocument[];
  const fail = (by = service, code = "no-license-available") =>
    by.licensingFailure({ tenantId: "t1", source: "auto-claim", code, message: "none left", product: { skuId: "SKU-1" }, userIds: ["u"] });
  return { sent, alerts, fail, instance, at: (iso: string) => (now = new Date(iso)) };
}

describe("L18 licensing-failure dedupe window", () => {
  it("when the same failure repeats within an hour of its alert, then it is counted, not sent again - also across a clock hour", async () => {
    const { sent, alerts, fail, at } = setup();
    await fail();
    at("2026-11-24T07:10:00.000Z");
    await fail();
    expect(sent).toHaveLength(1);
    expect(alerts()).toHaveLength(1);
    expect(alerts()[0]?.failure).toMatchObject({ occurrences: 2, lastOccurredAt: "2026-11-24T07:10:00.000Z", code: "no-license-available" });
  });

  it("when it repeats after the window, then a new alert is raised and sent", async () => {
    const { sent, alerts, fail, at } = setup();
    await fail();
    at("2026-11-24T07:51:00.000Z");
    await fail();
    expect(sent).toHaveLength(2);
    expect(alerts().map((a) => a.failure?.occurrences)).toEqual([1, 1]);
    expect(new Set(sent.map((e) => e.id)).size).toBe(2);
  });

  it("when another app instance sees the same failure within the window, then the stored lock counts it there too", async () => {
    const { sent, alerts, fail, instance } = setup();
    await fail();
    await fail(instance());
    expect(sent).toHaveLength(1);
    expect(alerts()[0]?.failure?.occurrences).toBe(2);
  });

  it("when another failure (another code) happens, then it has its own alert", async () => {
    const { sent, alerts, fail } = setup();
    await fail();
    await fail(undefined, "gave-up");
    expect(sent).toHaveLength(2);
    expect(alerts().map((a) => a.failure?.code).sort()).toEqual(["gave-up", "no-license-available"]);
  });
});
