import { deliveryCount, registerEnvelopeHandler } from "../events/dispatch.js";
import { SIGN_IN_EVENT_KIND } from "../events/sign-in-event.js";
import { autoClaim } from "./composition.js";
import { processSignInEvent } from "./processor.js";

/** Registers the claim processor for `sign-in-event` envelopes (imported by functions/events-process.ts). */
registerEnvelopeHandler(SIGN_IN_EVENT_KIND, async (envelope, context) => {
  const { processor } = await autoClaim();
  const started = Date.now();
  const result = await processSignInEvent(processor, envelope, { count: deliveryCount(context) });
  context.log(
    JSON.stringify({
      event: "sign-in-event",
      tenantId: envelope.tenantId,
      eventId: envelope.id,
      attempt: envelope.attempt,
      // Where a claim's time went: waiting since it was first queued, then in this handler.
      queuedMs: started - Date.parse(envelope.firstEnqueuedAt),
      ms: Date.now() - started,
      result: result.kind,
      ...(result.kind === "done" ? { status: result.outcome.status, code: result.outcome.code ?? undefined } : {}),
      ...(result.kind === "rescheduled" ? { reason: result.reason, delaySeconds: result.delaySeconds } : {}),
    }),
  );
});
