import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { newEnvelope, type Envelope } from "../../../shared/queue/envelope.js";
import type { QueueSender, SendOptions } from "../../../shared/queue/transport.js";
import type { SyncDeps } from "../../../shared/sync/deps.js";
import { FIRST_ACCESS_KIND, firstAccessBodySchema, handleFirstAccess, PAUSED_RECHECK_SECONDS } from "../../../shared/sync/first-access.js";
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

  it("when automation is paused (P11), then the event waits: it is sent again with a delay and the same attempt, and nothing else happens", async () => {
    const { deps, sent, requeue } = fakeDeps({ paused: true });
    const envelope = event();
    expect(await handleFirstAccess(deps, envelope, requeue)).toMatchObject({ outcome: "waiting" });
    expect(sent).toEqual([{ envelope, options: { delaySeconds: PAUSED_RECHECK_SECONDS } }]);
  });

  it("when this product does not sync the environment, then the event is skipped with its reason and audited", async () => {
    const { deps, requeue, audit } = fakeDeps({ syncEnabled: false });
    expect(await handleFirstAccess(deps, event(), requeue)).toMatchObject({ outcome: "skipped", reason: expect.stringMatching(/sync is off/) as string });
    expect(audit).toEqual([expect.objectContaining({ action: "sync.first-access", outcome: "skipped" })]);
  });
});
