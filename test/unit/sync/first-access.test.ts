import { randomUUID } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { AppError } from "../../../shared/errors/app-error.js";
import type { ServiceBusMessage } from "@azure/service-bus";
import { envelopeSchema, newEnvelope, type Envelope } from "../../../shared/queue/envelope.js";
import { ServiceBusQueueSender } from "../../../shared/queue/service-bus-sender.js";
import type { QueueSender, SendOptions } from "../../../shared/queue/transport.js";
import type { SyncDeps } from "../../../shared/sync/deps.js";
import {
  FIRST_ACCESS_KIND, firstAccessBodySchema, firstAccessEnvelope, handleFirstAccess, LICENSE_WAIT_ROUNDS, LICENSE_WAIT_SECONDS, PAUSED_RECHECK_SECONDS,
} from "../../../shared/sync/first-access.js";
import { LICENSE_NOT_VISIBLE } from "../../../shared/sync/one-user.js";
import { environment } from "./fixtures.js";

/** The contract with the sign-in pipeline (D4) and what the handler does before it touches Dataverse. */
function fakeDeps(overrides: { paused?: boolean; syncEnabled?: boolean }) {
  const audit: unknown[] = [];
  const untouched = () => {
    throw new Error("must not be called");
  };
  const deps = {
    isPaused: () => Promise.resolve(overrides.paused ?? false),
    settings: { get: () => Promise.resolve({ value: { syncEnabled: overrides.syncEnabled ?? true, massDisableThresholdPercent: null, defaultSecurityRoleIds: [] }, etag: "x", updatedAt: null, updatedBy: null }) },
    platform: () => ({ getEnvironment: () => Promise.resolve(environment()), addUser: untouched }),
    graph: untouched,
    dataverse: untouched,
    audit: { append: (_t: string, entry: unknown) => Promise.resolve(audit.push(entry)) },
    now: () => new Date(),
  } as unknown as SyncDeps;
  const sent: { envelope: Envelope; options?: SendOptions }[] = [];
  const requeue = { send: (envelope: Envelope, options?: SendOptions) => Promise.resolve(void sent.push({ envelope, options })) } as unknown as QueueSender;
  return { deps, sent, requeue, audit };
}

const event = () =>
  newEnvelope({ kind: FIRST_ACCESS_KIND, tenantId: randomUUID(), body: { userId: randomUUID(), environmentId: environment().id, occurredAt: new Date().toISOString() } });

describe("D4 first-access events", () => {
  it("when the body is not the agreed schema (a UPN for the user), then it is refused", () => {
    expect(firstAccessBodySchema.safeParse({ userId: "someone@contoso.example", environmentId: "e1", occurredAt: new Date().toISOString() }).success).toBe(false);
  });

  it("when automation is paused (P11), then the event waits: it is sent again with a delay, the same attempt and body, under a new id, and nothing else happens", async () => {
    const { deps, sent, requeue } = fakeDeps({ paused: true });
    const envelope = event();
    expect(await handleFirstAccess(deps, envelope, requeue)).toMatchObject({ outcome: "waiting" });
    expect(sent).toEqual([
      {
        envelope: { ...envelope, id: `${envelope.id}.wait-1`, body: { ...(envelope.body as object), pausedWait: { originalId: envelope.id, round: 1 } } },
        options: { delaySeconds: PAUSED_RECHECK_SECONDS },
      },
    ]);
  });

  it("when a paused event waits round after round, then each round gets a fresh id derived from the original event's id", async () => {
    const { deps, sent, requeue } = fakeDeps({ paused: true });
    const original = event();
    let current = original;
    for (let i = 0; i < 3; i++) {
      await handleFirstAccess(deps, current, requeue);
      current = sent.at(-1)!.envelope;
    }
    expect(sent.map((s) => s.envelope.id)).toEqual([`${original.id}.wait-1`, `${original.id}.wait-2`, `${original.id}.wait-3`]);
    expect(sent.every((s) => s.envelope.attempt === original.attempt && s.envelope.firstEnqueuedAt === original.firstEnqueuedAt)).toBe(true);
  });

  it("when the same waiting message is delivered twice, then both re-sends carry the same id (duplicate detection collapses them)", async () => {
    const { deps, sent, requeue } = fakeDeps({ paused: true });
    await handleFirstAccess(deps, event(), requeue);
    const round1 = sent[0]!.envelope;
    await handleFirstAccess(deps, round1, requeue);
    await handleFirstAccess(deps, round1, requeue);
    expect(sent[1]!.envelope).toEqual(sent[2]!.envelope);
    expect(sent[1]!.envelope.id).not.toBe(round1.id);
  });

  it("when the original id is as long as an envelope id may be, then the rounds still get distinct, valid ids", async () => {
    const { deps, sent, requeue } = fakeDeps({ paused: true });
    const long = { ...event(), id: "x".repeat(200) };
    await handleFirstAccess(deps, long, requeue);
    await handleFirstAccess(deps, sent[0]!.envelope, requeue);
    const ids = sent.map((s) => s.envelope.id);
    expect(new Set([long.id, ...ids]).size).toBe(3);
    for (const s of sent) expect(envelopeSchema.safeParse(s.envelope).success).toBe(true);
  });

  it("when paused wait rounds go through Service Bus, then every round has its own messageId (the queue's duplicate detection would drop a repeated one)", async () => {
    const { deps } = fakeDeps({ paused: true });
    const sdk = { sent: [] as ServiceBusMessage[], sendMessages: (m: ServiceBusMessage) => Promise.resolve(void sdk.sent.push(m)), close: () => Promise.resolve() };
    const serviceBus = new ServiceBusQueueSender("events", sdk);
    const original = event();
    await serviceBus.send(original);
    await handleFirstAccess(deps, original, serviceBus);
    const round1 = JSON.parse((sdk.sent[1]!.body as Buffer).toString("utf8")) as Envelope;
    await handleFirstAccess(deps, round1, serviceBus);
    const ids = sdk.sent.map((m) => m.messageId);
    expect(new Set(ids).size).toBe(3);
    expect(ids.includes(original.id)).toBe(true);
  });

  it("when this product does not sync the environment, then the event is skipped with its reason and audited", async () => {
    const { deps, requeue, audit } = fakeDeps({ syncEnabled: false });
    expect(await handleFirstAccess(deps, event(), requeue)).toMatchObject({ outcome: "skipped", reason: expect.stringMatching(/sync is off/) as string });
    expect(audit).toEqual([expect.objectContaining({ action: "sync.first-access", outcome: "skipped" })]);
  });
});

describe("D4 first access after a claim", () => {
  it("when the claimed license does not show in Graph yet, then the access waits in rounds under fresh ids, and after the last round it is judged as Graph shows the user", async () => {
    const oneUser = await import("../../../shared/sync/one-user.js");
    const calls: (string | undefined)[] = [];
    const spy = vi.spyOn(oneUser, "syncOneUser").mockImplementation((...args) => {
      const expected = args[8]?.expectLicenseSkuId;
      calls.push(expected);
      if (expected) return Promise.reject(new AppError("unavailable", "not yet", { code: LICENSE_NOT_VISIBLE }));
      return Promise.resolve({ userId: "u", environmentId: "e", outcome: "unchanged", systemUserId: null, drift: null, failedRules: [], roleFailures: [] });
    });
    try {
      const { deps, sent, requeue } = fakeDeps({});
      const sku = randomUUID();
      const original = firstAccessEnvelope(randomUUID(), { eventId: "ev-1", userId: randomUUID(), environmentId: environment().id, occurredAt: new Date().toISOString() }, sku);
      let current = original;
      for (let round = 1; round <= LICENSE_WAIT_ROUNDS; round++) {
        expect(await handleFirstAccess(deps, current, requeue)).toMatchObject({ outcome: "waiting", reason: expect.stringContaining(sku) as string });
        expect(sent.at(-1)).toMatchObject({ envelope: { id: `${original.id}.license-${round}` }, options: { delaySeconds: LICENSE_WAIT_SECONDS } });
        current = sent.at(-1)!.envelope;
      }
      expect(await handleFirstAccess(deps, current, requeue)).toMatchObject({ outcome: "applied" });
      expect(calls).toEqual([...Array<string>(LICENSE_WAIT_ROUNDS).fill(sku), undefined]);
      expect(sent).toHaveLength(LICENSE_WAIT_ROUNDS);
    } finally {
      spy.mockRestore();
    }
  });
});
