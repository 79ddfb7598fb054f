import { BlockList, isIP } from "node:net";

/**
 * Where an alert webhook may point (L18). The app calls the URL from inside its network, so a URL
 * must never reach what only the app can reach (SSRF): in Azure only https, and never a loopback,
 * private, link-local (instance metadata at 169.254.169.254), shared or Azure platform address -
 * checked here for IP literals and well-known local names, and again on every delivery for the
 * addresses the name resolves to (`isBlockedAddress`), so a DNS answer cannot smuggle one in.
 * Locally (APP_ENV=local) a plain-http loopback receiver is also accepted, for development and tests.
 */
export type AppEnv = "azure" | "local";

const blocked = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8], // "this" network
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // shared address space (carrier-grade NAT)
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local, incl. instance metadata 169.254.169.254
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const) blocked.addSubnet(net, prefix, "ipv4");
blocked.addAddress("168.63.129.16", "ipv4"); // Azure platform (wire server, DNS)
for (const [net, prefix] of [
  ["::", 128], // unspecified
  ["::1", 128], // loopback
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["ff00::", 8], // multicast
  ["64:ff9b::", 96], // NAT64 (embeds an IPv4 address)
  ["2001:db8::", 32], // documentation
] as const) blocked.addSubnet(net, prefix, "ipv6");

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1"]);
const LOCAL_SUFFIXES = [".localhost", ".local", ".internal", ".localdomain"];

/** True for addresses a webhook must never reach in Azure (IPv4-mapped IPv6 is checked as IPv4). */
export function isBlockedAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return blocked.check(mapped[1], "ipv4");
  const family = isIP(address);
  if (family === 4) return blocked.check(address, "ipv4");
  if (family === 6) return blocked.check(address, "ipv6");
  return true; // not an address at all: refuse rather than guess
}

/** The host of a URL without IPv6 brackets, lower case. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
}

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAMES.has(host) || (isIP(host) === 4 && host.startsWith("127."));
}

/** Why `raw` cannot be an alert webhook here, or undefined when it can. */
export function checkWebhookUrl(raw: string, appEnv: AppEnv): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "must be an absolute URL";
  }
  const host = hostOf(url);
  if (url.protocol === "http:") {
    if (appEnv === "local" && isLoopbackHost(host)) return undefined;
    return appEnv === "local" ? "must be https (plain http only for a loopback receiver with APP_ENV=local)" : "must be https";
  }
  if (url.protocol !== "https:") return "must be https";
  if (appEnv === "local") return undefined;
  if (LOOPBACK_NAMES.has(host) || LOCAL_SUFFIXES.some((s) => host.endsWith(s)) || (!host.includes(".") && isIP(host) === 0)) {
    return "must be a public host name, not a local one";
  }
  if (isIP(host) !== 0 && isBlockedAddress(host)) return "must not be a loopback, private, link-local or other non-public address";
  return undefined;
}

/** The URL with its path, query and credentials hidden (they often carry the receiver's secret). */
export function redactWebhookUrl(raw: string | null): string | null {
  if (raw === null) return null;
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}/…`;
  } catch {
    return "…";
  }
}
