/** Node / SDK error codes meaning "no answer came back": the dependency is unreachable, retry later. */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "REQUEST_SEND_ERROR",
  "TimeoutError",
]);

export function isNetworkError(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const { code, name } = err as { code?: unknown; name?: unknown };
  return (typeof code === "string" && NETWORK_ERROR_CODES.has(code)) || name === "TimeoutError";
}
