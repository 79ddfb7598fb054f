import { lookup, type LookupAddress } from "node:dns";
import { request as httpRequest, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { checkWebhookUrl, hostOf, isBlockedAddress, type AppEnv } from "./webhook-url.js";
import type { AlertPayload } from "./model.js";

/** How long one delivery may take (connect + answer): a slow receiver must not hold the queue. */
export const WEBHOOK_TIMEOUT_MS = 5_000;

export type WebhookResult =
  | { ok: true; status: number }
  /** transient: worth another attempt later (network, timeout, 408, 425, 429, 5xx). */
  | { ok: false; transient: boolean; reason: string };

/**
 * A DNS lookup that refuses names resolving to addresses a webhook must never reach (Azure only):
 * the check runs on the addresses the connection will use, so a rebinding answer cannot slip by.
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  lookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, "", 0);
    const refused = addresses.find((a) => isBlockedAddress(a.address));
    if (refused || addresses.length === 0) {
      const error = Object.assign(new Error(`${hostname} resolves to a non-public address (${refused?.address ?? "none"})`), { code: "EWEBHOOKBLOCKED" });
      return callback(error, "", 0);
    }
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    const first = addresses[0] as LookupAddress;
    return callback(null, first.address, first.family);
  });
};

/**
 * POSTs one alert to the tenant's webhook: JSON body, `Idempotency-Key: <alert id>`, no redirects
 * followed (a redirect could point anywhere), answer body ignored. Never throws.
 */
export function postAlert(url: string, payload: AlertPayload, appEnv: AppEnv, timeoutMs = WEBHOOK_TIMEOUT_MS): Promise<WebhookResult> {
  const refused = checkWebhookUrl(url, appEnv);
  if (refused) return Promise.resolve({ ok: false, transient: false, reason: `the webhook URL ${refused}` });
  const target = new URL(url);
  const body = JSON.stringify(payload);
  const options: RequestOptions = {
    method: "POST",
    headers: {
      "Content-Type": "application/json; charset=utf-8",
      "Content-Length": Buffer.byteLength(body),
      "Idempotency-Key": payload.id,
      "User-Agent": "license-control-plane-alerts/1",
    },
    timeout: timeoutMs,
    ...(appEnv === "azure" ? { lookup: guardedLookup } : {}),
  };
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: WebhookResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve(r);
    };
    const deadline = setTimeout(() => {
      req.destroy();
      done({ ok: false, transient: true, reason: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    const req = send(target, options, (res) => {
      res.resume(); // the answer's body is not used
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) return done({ ok: true, status });
      if (status >= 300 && status < 400) return done({ ok: false, transient: false, reason: `the webhook answered ${status}; redirects are not followed` });
      const transient = status === 408 || status === 425 || status === 429 || status >= 500;
      done({ ok: false, transient, reason: `the webhook answered ${status}` });
    });
    req.on("timeout", () => {
      req.destroy();
      done({ ok: false, transient: true, reason: `no answer within ${timeoutMs} ms` });
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      const blockedAddress = err.code === "EWEBHOOKBLOCKED";
      done({ ok: false, transient: !blockedAddress, reason: `the webhook at ${hostOf(target)} could not be reached: ${err.message}` });
    });
    req.end(body);
  });
}
