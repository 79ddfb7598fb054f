// P11 wiring: `automation-resumed` envelopes on the event queue (sent when a tenant's pause switch is
// turned off) run the scheduled work the pause skipped, for that tenant, now. No function of its own:
// events-process dispatches them.
import { registerResumeHandler } from "../shared/settings/resume-handler.js";

registerResumeHandler();
