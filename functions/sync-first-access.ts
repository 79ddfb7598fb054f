// D4 wiring: `first-access` envelopes on the event queue (produced by the sign-in pipeline) are
// handled by the sync's on-demand add. No function of its own: events-process dispatches them.
import { registerFirstAccessHandler } from "../shared/sync/first-access.js";

registerFirstAccessHandler();
