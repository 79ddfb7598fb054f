/** The simulated cloud's internal request/response values (handlers return data, the server writes it). */

export interface Caller {
  /** Object id of the user or service principal (`oid`). */
  objectId: string;
  /** Application (client) id (`azp` / `appid`). */
  appId: string;
  tenantId: string;
  roles: string[];
  isApp: boolean;
}

export interface SimRequest {
  method: string;
  /** Absolute URL as the sim sees it (origin = the sim's URL). */
  url: URL;
  /** Path after the service prefix, e.g. "/v1.0/users" for /graph/v1.0/users. */
  path: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: Buffer;
  caller?: Caller;
}

export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  /** JSON body (serialized by the server). */
  json?: unknown;
  /** Text body (sent as is). */
  text?: string;
}

export function jsonResponse(status: number, json: unknown, headers: Record<string, string> = {}): SimResponse {
  return { status, json, headers };
}

export function header(req: SimRequest, name: string): string | undefined {
  return req.headers[name.toLowerCase()];
}

export function parseJsonBody(req: SimRequest): unknown {
  if (!req.body.length) return undefined;
  return JSON.parse(req.body.toString("utf8")) as unknown;
}

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? "Unknown";
}

const STATUS_TEXT: Record<number, string> = {
  200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
  404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 410: "Gone", 412: "Precondition Failed", 424: "Failed Dependency",
  429: "Too Many Requests", 500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable", 504: "Gateway Timeout",
};
