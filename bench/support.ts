import { request } from "node:https";
import { httpSend } from "../shared/clients/http-transport.js";

/** Shared helpers of the benchmarks (bench/<name>.ts). */

export function numberArg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  const value = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number`);
  return value;
}

export function stringArg(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** The p-th percentile (nearest rank) of `values`, formatted with `digits` decimals. */
export function pct(values: readonly number[], p: number, digits = 1): string {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return (sorted[index] ?? 0).toFixed(digits);
}

/** The simulated cloud's admin API over its locally-signed HTTPS (a bench process does not start with NODE_EXTRA_CA_CERTS). */
export function simAdmin(ca: Buffer, url: string, method: string, body?: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(url, { method, ca, headers: payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if ((res.statusCode ?? 500) >= 300) reject(new Error(`sim ${method} ${url}: ${res.statusCode} ${text.slice(0, 300)}`));
        else resolve(text ? (JSON.parse(text) as unknown) : undefined);
      });
    });
    req.on("error", reject);
    if (payload) req.write(payload);
    req.end();
  });
}


/**
 * The load generator's POST: through the app's keep-alive node:http pool (shared/clients/http-transport.ts).
 * fetch costs the bench process ~3x the CPU per request, and the load generator shares the
 * machine's two cores with the stack it measures.
 */
export async function postJson(url: string, token: string, body: string): Promise<{ status: number; text: string }> {
  const res = await httpSend(url, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body });
  return { status: res.status, text: res.body.toString("utf8") };
}
