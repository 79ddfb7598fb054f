// L18 wiring: `license-alert` envelopes on the event queue are delivered to the tenant's webhook.
// No function of its own: events-process dispatches them, and its transient-failure helper
// re-enqueues a delivery that failed transiently (webhook down) with a delay.
import { ALERT_ENVELOPE_KIND } from "../shared/alerts/alerts.js";
import { alerts } from "../shared/alerts/composition.js";
import { registerEnvelopeHandler } from "../shared/events/dispatch.js";

registerEnvelopeHandler(ALERT_ENVELOPE_KIND, async (envelope) => (await alerts()).deliver(envelope));
