import { z } from "zod";
import { ACCESS } from "../auth/roles.js";
import { defineEndpoint } from "../http/endpoint.js";
import { acceptedSchemaOf, tenantIdSchema } from "../http/conventions.js";
import { eventIdSchema, eventStatusSchema, eventViewSchema, relayEventSchema } from "./sign-in-event.js";
import { tokenIssuanceStartRequestSchema, tokenIssuanceStartResponseSchema } from "./entra-extension.js";

const tenantParams = z.object({ tenantId: tenantIdSchema });

export const signInEventsPost = defineEndpoint({
  name: "sign-in-events-post",
  method: "POST",
  route: "tenants/{tenantId}/sign-in-events",
  summary:
    "E3: a relay delivers a sign-in event (app role SignInEvents.Send). 202 {id, status} + Location. Same eventId and body: the same answer; " +
    "another body, or an id another caller used: 409; occurredAt over 24 h old or in the future: 422; the caller over its daily cap: 429 with Retry-After " +
    "(the event is kept and processed the next day); the queue down: 503 (send it again).",
  tag: "Sign-in events",
  access: ACCESS.signInEventsSend,
  params: tenantParams,
  body: relayEventSchema,
  responses: {
    202: { description: "Accepted", schema: acceptedSchemaOf(eventStatusSchema), headers: { Location: "The event's status" } },
    409: { description: "event-id-reused: the eventId was used for another event (another body), or by another caller (eventId)" },
    422: { description: "event-too-old (occurredAt over 24 hours ago), event-in-future (occurredAt in the future, past 5 minutes of clock skew) - occurredAt" },
    429: {
      description: "daily-cap-reached: over the caller's daily cap; the event is kept (deferred) and processed the next day (id, eventStatus)",
      headers: { "Retry-After": "Seconds until the cap resets" },
    },
    503: {
      description: "event-queue-unavailable: the event queue is down, the event was not accepted - send it again; or another dependency is down",
      headers: { "Retry-After": "Seconds to wait before sending it again" },
    },
  },
});

export const signInEventsGet = defineEndpoint({
  name: "sign-in-events-get",
  method: "GET",
  route: "tenants/{tenantId}/sign-in-events/{eventId}",
  summary:
    "What became of an event: queued, deferred, waiting (automation paused), claimed (policy, product), skipped (why), failed (why). " +
    "For admins, and for the relay that sent it (an application token with SignInEvents.Send sees only its own events; others are 404).",
  tag: "Sign-in events",
  access: ACCESS.signInEventRead,
  params: z.object({ tenantId: tenantIdSchema, eventId: eventIdSchema }),
  responses: { 200: { description: "The event", schema: eventViewSchema } },
});

export const entraTokenIssuanceStart = defineEndpoint({
  name: "entra-token-issuance-start",
  method: "POST",
  route: "tenants/{tenantId}/entra/token-issuance-start",
  summary:
    "E1: the endpoint of a Microsoft Entra custom authentication extension (OnTokenIssuanceStart). Not for admins: it accepts only a token " +
    "Entra issued for the extension's app registration (aud = ENTRA_EXTENSION_AUDIENCES) to its documented caller app " +
    "(azp/appid 99045fe1-7639-4a75-9d4a-577b6ca3810f), in this tenant. Always answers \"continue\" (no claims) within its deadline, " +
    "also when storage or the queue is down; a first-sign-in event is queued for the user and app.",
  tag: "Sign-in events",
  access: ACCESS.entraExtension,
  params: tenantParams,
  body: tokenIssuanceStartRequestSchema,
  responses: {
    200: { description: "Continue the sign-in; no claims are added", schema: tokenIssuanceStartResponseSchema },
    400: { description: "validation: the route's tenant id is not a GUID (a malformed body still answers continue)" },
    401: {
      description:
        "unauthorized, not-from-entra, entra-extension-not-configured: the call does not come from Entra (no token, wrong audience, issuer or caller app), " +
        "or ENTRA_EXTENSION_AUDIENCES is not set",
      headers: { "WWW-Authenticate": 'The Bearer challenge: Bearer error="invalid_token" for a token refused, plain Bearer when none was sent (RFC 6750)' },
    },
  },
});

export const SIGN_IN_EVENT_ENDPOINTS = [signInEventsPost, signInEventsGet, entraTokenIssuanceStart] as const;
