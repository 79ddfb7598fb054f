import type { ClaimDocument } from "../../../shared/autoclaim/claims.js";
import type { SignInEnvelopeBody } from "../../../shared/events/sign-in-event.js";
import { newEnvelope, type Envelope } from "../../../shared/queue/envelope.js";

/** The processor's unit tests' shared inputs: one E3 sign-in event, and the pending claim an earlier attempt of it kept. */
export interface EventFixture {
  tenantId: string;
  userId: string;
  appId: string;
  eventId: string;
}

export function signInEnvelope(f: EventFixture, attempt = 1): Envelope {
  const body: SignInEnvelopeBody = {
    event: { eventId: f.eventId, userId: f.userId, appId: f.appId, trigger: "sign-in", occurredAt: "2026-12-06T11:59:00.000Z" },
    source: "E3",
    caller: { id: "relay-app", kind: "relay" },
    receivedAt: "2026-12-06T11:59:01.000Z",
  };
  return { ...newEnvelope({ kind: "sign-in-event", tenantId: f.tenantId, body, id: f.eventId }), attempt };
}

/** The pending claim the event's earlier attempt left (Graph's answer unknown), not expired. */
export function keptClaim(f: EventFixture, skuId: string, shard: number): ClaimDocument {
  return {
    id: `claim:${f.appId}:${f.userId}`, type: "claim", tenantId: f.tenantId, appId: f.appId, userId: f.userId, status: "pending", eventId: f.eventId, trigger: "sign-in",
    source: "E3", caller: { id: "relay-app", kind: "relay" }, policyId: "p1", policyName: "Policy", skuId, shard,
    createdAt: "2026-12-06T11:59:02.000Z", expiresAt: "2026-12-06T12:14:02.000Z",
  };
}
