import { registerEnvelopeHandler } from "../events/dispatch.js";
import { SIGN_IN_EVENT_KIND } from "../events/sign-in-event.js";
import { autoClaim } from "./composition.js";
import { processSignInEvent } from "./processor.js";

/** Registers the claim processor for `sign-in-event` envelopes (imported by functions/events-process.ts). */
registerEnvelopeHandler(SIGN_IN_EVENT_KIND, async (envelope, context) => {
  const { processor } = await autoClaim();
  const result = await processSignInEvent(processor, envelope);
  context.log(
    JSON.stringify({
      event: "sign-in-event",
      tenantId: envelope.tenantId,
      eventId: envelope.id,
      attempt: envelope.attempt,
      result: result.kind,
      ...(result.kind === "done" ? { status: result.outcome.status, code: result.outcome.code ?? undefined } : {}),
      ...(result.kind === "rescheduled" ? { reason: result.reason, delaySeconds: result.delaySeconds } : {}),
    }),
  );
});
