import { createHash } from "node:crypto";
import { z } from "zod";
import type { SignInEvent } from "./sign-in-event.js";

/**
 * E1: the Microsoft Entra custom authentication extension for the OnTokenIssuanceStart event
 * (custom claims provider). Entra POSTs `microsoft.graph.authenticationEvent.tokenIssuanceStart`
 * with the user and the client application, and expects `onTokenIssuanceStartResponseData` with a
 * `provideClaimsForToken` action. This product adds no claims: it answers at once and queues a
 * first-sign-in event. Schemas are lenient (unknown members pass): Entra adds members over time,
 * and an answer must never block a sign-in.
 */
export const tokenIssuanceStartRequestSchema = z
  .object({
    type: z.literal("microsoft.graph.authenticationEvent.tokenIssuanceStart"),
    source: z.string().optional(),
    data: z
      .object({
        "@odata.type": z.literal("microsoft.graph.onTokenIssuanceStartCalloutData"),
        tenantId: z.guid(),
        authenticationEventListenerId: z.string().optional(),
        customAuthenticationExtensionId: z.string().optional(),
        authenticationContext: z
          .object({
            correlationId: z.string().min(1),
            protocol: z.string().optional(),
            clientServicePrincipal: z.object({ id: z.string().optional(), appId: z.guid(), appDisplayName: z.string().optional() }).loose(),
            resourceServicePrincipal: z.object({ id: z.string().optional(), appId: z.string().optional() }).loose().optional(),
            user: z.object({ id: z.guid(), userType: z.string().optional(), userPrincipalName: z.string().optional() }).loose(),
          })
          .loose(),
      })
      .loose(),
  })
  .loose();
export type TokenIssuanceStartRequest = z.infer<typeof tokenIssuanceStartRequestSchema>;

export const tokenIssuanceStartResponseSchema = z.object({
  data: z.object({
    "@odata.type": z.literal("microsoft.graph.onTokenIssuanceStartResponseData"),
    actions: z.array(z.object({ "@odata.type": z.literal("microsoft.graph.tokenIssuanceStart.provideClaimsForToken"), claims: z.record(z.string(), z.never()) })),
  }),
});

/** The answer that lets the sign-in continue and adds no claims. */
export function continueResponse(): z.infer<typeof tokenIssuanceStartResponseSchema> {
  return {
    data: {
      "@odata.type": "microsoft.graph.onTokenIssuanceStartResponseData",
      actions: [{ "@odata.type": "microsoft.graph.tokenIssuanceStart.provideClaimsForToken", claims: {} }],
    },
  };
}

/**
 * The first-sign-in event of a token issuance: one per sign-in (correlation id), user and client
 * application, so Entra's retries of one call map to one event.
 */
export function eventFromTokenIssuance(request: TokenIssuanceStartRequest, now: Date): SignInEvent {
  const ctx = request.data.authenticationContext;
  const appId = ctx.clientServicePrincipal.appId.toLowerCase();
  const userId = ctx.user.id.toLowerCase();
  const digest = createHash("sha256").update(`${ctx.correlationId}|${appId}|${userId}`).digest("hex").slice(0, 40);
  return { eventId: `e1-${digest}`, userId, appId, trigger: "sign-in", occurredAt: now.toISOString() };
}

/** Guests never claim (rules for every event); E1 knows the user type already, so their events are not even queued. */
export function isGuest(request: TokenIssuanceStartRequest): boolean {
  return request.data.authenticationContext.user.userType?.toLowerCase() === "guest";
}

export type DeadlineResult<T> = { outcome: "done"; value: T } | { outcome: "failed"; error: unknown } | { outcome: "timeout" };

/** Waits for `work` at most `ms`; the work itself goes on (its result is then ignored). */
export async function withDeadline<T>(work: Promise<T>, ms: number): Promise<DeadlineResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<DeadlineResult<T>>((resolve) => {
    timer = setTimeout(() => resolve({ outcome: "timeout" }), ms);
  });
  try {
    return await Promise.race([
      work.then((value): DeadlineResult<T> => ({ outcome: "done", value }), (error: unknown): DeadlineResult<T> => ({ outcome: "failed", error })),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * How long token issuances of one user to one app count as the same sign-in. Entra calls the
 * extension at every token issuance - a sign-in brings several at once - and the first is what
 * matters. Short, because a later sign-in must be seen again: it re-assigns a tracking plan an admin
 * removed (L12) and claims a license bought since the last one failed (A3) - an hour's window
 * (the lifetime of a token, renewed silently) made both wait for up to an hour.
 */
export const E1_SAME_SIGN_IN_MS = 5 * 60_000;

/** Sign-ins of one user to one app within the window are queued once per process. */
export class RecentSignIns {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly windowMs = E1_SAME_SIGN_IN_MS,
    private readonly maxEntries = 50_000,
  ) {}

  /** True when this user and app were queued within the window. */
  seenRecently(key: string, nowMs = Date.now()): boolean {
    const at = this.seen.get(key);
    return at !== undefined && nowMs - at < this.windowMs;
  }

  /**
   * Takes this user and app's sign-in for this call: false when it was taken within the window -
   * also by a call still storing it (Entra's calls of one sign-in arrive at the same moment).
   */
  take(key: string, nowMs = Date.now()): boolean {
    if (this.seenRecently(key, nowMs)) return false;
    this.remember(key, nowMs);
    return true;
  }

  /** A taken sign-in whose event could not be stored or queued: the next call tries again. */
  forget(key: string): void {
    this.seen.delete(key);
  }

  remember(key: string, nowMs = Date.now()): void {
    if (this.seen.size >= this.maxEntries) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    this.seen.delete(key);
    this.seen.set(key, nowMs);
  }
}
