import { randomUUID } from "node:crypto";
import { z } from "zod";

/** Characters Cosmos DB refuses in ids; envelope ids become document ids (failures, dedup). */
const SAFE_ID = /^[^/\\?#|]+$/;

/**
 * What travels on every queue, whatever the transport. The body is opaque here: each handler
 * validates it with its own schema for its `kind`.
 */
export const envelopeSchema = z.object({
  /** A uuid, or the id the producer gave the event (stable across re-sends of the same work). */
  id: z.string().min(1).max(200).regex(SAFE_ID, "must not contain / \\ ? # |"),
  /** What the body is, e.g. "sign-in-event" or "sync-job"; picks the handler. */
  kind: z.string().min(1).max(100).regex(SAFE_ID, "must not contain / \\ ? # |"),
  tenantId: z.string().min(1).max(128).regex(SAFE_ID, "must not contain / \\ ? # |"),
  /** 1 for the first delivery; each self-scheduled retry adds one. */
  attempt: z.number().int().min(1),
  firstEnqueuedAt: z.iso.datetime({ offset: true }),
  body: z.unknown(),
  /** Why the previous attempt failed (set on retries). */
  lastError: z.object({ reason: z.string(), at: z.iso.datetime({ offset: true }) }).optional(),
});

export type Envelope = z.infer<typeof envelopeSchema>;

export interface NewEnvelopeInput {
  kind: string;
  tenantId: string;
  body: unknown;
  /** Defaults to a random uuid; pass the event id to make re-sends of one event recognisable. */
  id?: string;
  now?: Date;
}

/** A first-attempt envelope (validated, so a producer cannot enqueue what consumers would refuse). */
export function newEnvelope(input: NewEnvelopeInput): Envelope {
  return envelopeSchema.parse({
    id: input.id ?? randomUUID(),
    kind: input.kind,
    tenantId: input.tenantId,
    attempt: 1,
    firstEnqueuedAt: (input.now ?? new Date()).toISOString(),
    body: input.body,
  });
}

/** The envelope for the next attempt after a transient failure. */
export function nextAttempt(envelope: Envelope, reason: string, at: Date): Envelope {
  return { ...envelope, attempt: envelope.attempt + 1, lastError: { reason, at: at.toISOString() } };
}

export type ParsedEnvelope =
  | { ok: true; envelope: Envelope }
  | { ok: false; reason: string; /** The message as text, for the failure record. */ rawText: string };

/**
 * Reads an envelope from what a trigger hands over: the Functions host gives an object when the
 * message text is JSON, but a string or bytes are accepted too.
 */
export function parseEnvelope(raw: unknown): ParsedEnvelope {
  let value: unknown = raw;
  if (typeof raw === "string" || raw instanceof Uint8Array) {
    const text = typeof raw === "string" ? raw : Buffer.from(raw).toString("utf8");
    try {
      value = JSON.parse(text);
    } catch (err) {
      return { ok: false, reason: `malformed message: not JSON (${(err as Error).message})`, rawText: text };
    }
  }
  const result = envelopeSchema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    return { ok: false, reason: `malformed message: not an envelope (${issues})`, rawText: toText(raw) };
  }
  return { ok: true, envelope: result.data };
}

function toText(raw: unknown): string {
  if (typeof raw === "string") return raw;
  if (raw instanceof Uint8Array) return Buffer.from(raw).toString("utf8");
  try {
    return JSON.stringify(raw) ?? String(raw);
  } catch {
    return String(raw);
  }
}
