import { getRuntime, type Runtime } from "../runtime.js";
import { AlertService, type LicensingFailureInput } from "./alerts.js";

/**
 * The alert service of a runtime, built once per process (shared by license administration and
 * the queue handler, so they share the open-alert cache).
 */
const services = new WeakMap<Runtime, AlertService>();

export function alertsFor(runtime: Runtime): AlertService {
  let service = services.get(runtime);
  if (!service) {
    service = new AlertService({
      container: runtime.container("alerts"),
      queue: runtime.eventQueue,
      settings: runtime.settings,
      appEnv: runtime.config.APP_ENV,
      maxAttempts: runtime.config.QUEUE_MAX_ATTEMPTS,
    });
    services.set(runtime, service);
  }
  return service;
}

export async function alerts(): Promise<AlertService> {
  return alertsFor(await getRuntime());
}

/**
 * L18 for every module: records a licensing failure and sends it to the tenant's webhook (when
 * the tenant enabled alerts), at most once per (source, code, product, group) for an hour after the
 * alert (a day for group-licensing errors) - later occurrences are counted on the alert. Never throws, never waits on the webhook: call it where the
 * failure is decided, e.g. the auto-claim processor's "no license available":
 *
 *   await raiseLicensingFailure({ tenantId, source: "auto-claim", code: "no-license-available",
 *     message: reason, product: { skuId, skuPartNumber }, userIds: [userId] });
 */
export async function raiseLicensingFailure(input: LicensingFailureInput): Promise<void> {
  try {
    await (await alerts()).licensingFailure(input);
  } catch (err) {
    console.warn(JSON.stringify({ event: "alerts", message: "licensing-failure alert could not be recorded", tenantId: input.tenantId, error: String(err) }));
  }
}
