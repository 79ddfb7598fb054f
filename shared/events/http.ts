import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import type { Principal } from "../auth/token-validator.js";
import { AppError } from "../errors/app-error.js";
import { acceptedResponse } from "../http/conventions.js";
import { toProblemResponse } from "../http/problem.js";
import { autoClaim } from "../autoclaim/composition.js";
import { getConfig } from "../config/config.js";
import { continueResponse, eventFromTokenIssuance, isGuest, tokenIssuanceStartRequestSchema, withDeadline } from "./entra-extension.js";
import { ingestSignInEvent } from "./ingestion.js";
import { toEventView, type SignInEvent } from "./sign-in-event.js";

/** HTTP shapes of ingestion (E3), event status, and the Entra extension (E1). */
const eventLocation = (tenantId: string, eventId: string) => `/api/tenants/${tenantId}/sign-in-events/${eventId}`;

export async function postSignInEventResponse(tenantId: string, event: SignInEvent, principal: Principal): Promise<HttpResponseInit> {
  const ac = await autoClaim();
  const caller = { id: (principal.appId ?? principal.objectId).toLowerCase(), kind: "relay" as const, objectId: principal.objectId };
  const result = await ingestSignInEvent({ events: ac.events, caps: ac.caps, queue: ac.runtime.eventQueue }, tenantId, event, "E3", caller);
  if (result.httpStatus === 429) {
    throw new AppError("tooManyRequests", `The caller reached its daily cap of events. This event was kept (status "deferred") and is processed when the next UTC day starts; see ${eventLocation(tenantId, result.id)}.`, {
      code: "daily-cap-reached",
      retryAfterSeconds: result.retryAfterSeconds,
      extensions: { id: result.id, eventStatus: result.status },
    });
  }
  return acceptedResponse(result.id, result.status, eventLocation(tenantId, result.id));
}

export async function getSignInEventResponse(tenantId: string, eventId: string, principal: Principal): Promise<HttpResponseInit> {
  const ac = await autoClaim();
  const doc = await ac.events.get(tenantId, eventId);
  // A relay sees the events it sent, nothing else (not even whether another caller's id exists).
  const othersEvent = principal.isApplication && doc?.caller.id !== (principal.appId ?? principal.objectId).toLowerCase();
  if (!doc || doc.tenantId !== tenantId || othersEvent) throw new AppError("notFound", "The sign-in event was not found.", { code: "event-not-found" });
  return { status: 200, jsonBody: toEventView(doc) };
}

/**
 * E1. Answers "continue" with no claims in every case but a call that is not Entra's (401/403):
 * a malformed body, storage or queue down, or a slow dependency never block a sign-in. The event
 * is stored and queued within the deadline when possible; past it the answer goes anyway (the
 * work may still finish in the background).
 */
export async function entraTokenIssuanceStartHandler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const started = Date.now();
  const tenantId = (request.params.tenantId ?? "").toLowerCase();
  const answer = (note: string): HttpResponseInit => {
    context.log(JSON.stringify({ event: "entra-extension", tenantId, outcome: note, ms: Date.now() - started }));
    return { status: 200, jsonBody: continueResponse() };
  };
  // A cold instance builds its services first (Cosmos client, queue, token keys): that counts
  // against the deadline too.
  const deadlineMs = getConfig().ENTRA_EXTENSION_DEADLINE_MS;
  const services = await withDeadline(autoClaim(), deadlineMs);
  if (services.outcome !== "done") {
    context.warn("entra-extension: services unavailable", services.outcome === "failed" ? services.error : "not ready within the deadline");
    return answer("continue-without-services");
  }
  const ac = services.value;
  const auth = await withDeadline(ac.entraAuth(request.headers.get("authorization"), tenantId), Math.max(10, deadlineMs - (Date.now() - started)));
  if (auth.outcome === "failed") {
    const err = auth.error;
    if (err instanceof AppError && (err.kind === "unauthorized" || err.kind === "forbidden" || err.kind === "validation")) return toProblemResponse(err, context);
    context.warn("entra-extension: the token could not be checked; continuing without queuing", err);
    return answer("continue-unverified");
  }
  if (auth.outcome === "timeout") return answer("continue-unverified-timeout");

  let parsed;
  try {
    parsed = tokenIssuanceStartRequestSchema.safeParse(JSON.parse(await request.text()) as unknown);
  } catch {
    parsed = undefined;
  }
  if (!parsed?.success) return answer("continue-malformed-body");
  if (parsed.data.data.tenantId.toLowerCase() !== tenantId) return answer("continue-other-tenant");
  if (isGuest(parsed.data)) return answer("continue-guest");

  const now = new Date();
  const event = eventFromTokenIssuance(parsed.data, now);
  const key = `${tenantId}|${event.userId}|${event.appId}`;
  // Taken before it is stored, so calls of the same sign-in arriving meanwhile queue nothing more;
  // given back when storing or queuing fails (also after the deadline), so a later call tries again.
  if (!ac.recentSignIns.take(key)) return answer("continue-seen");
  const work = ingestSignInEvent({ events: ac.events, caps: ac.caps, queue: ac.runtime.eventQueue }, tenantId, event, "E1", { id: "entra", kind: "entra" });
  work.catch(() => ac.recentSignIns.forget(key));
  const remaining = Math.max(10, deadlineMs - (Date.now() - started));
  const result = await withDeadline(work, remaining);
  if (result.outcome === "done") return answer(`continue-${result.value.status}`);
  if (result.outcome === "failed") context.warn("entra-extension: the event could not be queued", result.error);
  return answer(result.outcome === "timeout" ? "continue-deadline" : "continue-not-queued");
}
