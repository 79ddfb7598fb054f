import { randomUUID } from "node:crypto";
import { SimError } from "../http/errors.js";
import { statusText, type SimResponse } from "../http/types.js";

/** OData multipart/mixed $batch: parsing requests (with change sets) and writing responses. */

export interface BatchRequestPart {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  contentId: string | null;
}

export type BatchEntry = { kind: "request"; request: BatchRequestPart } | { kind: "changeset"; requests: BatchRequestPart[] };

export function boundaryOf(contentType: string | undefined): string | null {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? "");
  return m ? (m[1] ?? m[2] ?? null) : null;
}

function splitHeaderBlock(text: string): { headers: Record<string, string>; rest: string } {
  const headers: Record<string, string> = {};
  const normalized = text.replace(/^(\r?\n)+/, "");
  const match = /\r?\n\r?\n/.exec(normalized);
  const head = match ? normalized.slice(0, match.index) : normalized;
  const rest = match ? normalized.slice(match.index + match[0].length) : "";
  for (const line of head.split(/\r?\n/)) {
    const idx = line.indexOf(":");
    if (idx > 0) headers[line.slice(0, idx).trim().toLowerCase()] = line.slice(idx + 1).trim();
  }
  return { headers, rest };
}

function splitParts(body: string, boundary: string): string[] {
  const delimiter = `--${boundary}`;
  const chunks = body.split(delimiter);
  const parts: string[] = [];
  for (let i = 1; i < chunks.length; i++) {
    const chunk = chunks[i] ?? "";
    if (chunk.startsWith("--")) break;
    parts.push(chunk);
  }
  return parts;
}

function parseHttpMessage(text: string, contentId: string | null): BatchRequestPart {
  const trimmed = text.replace(/^(\r?\n)+/, "");
  const lineEnd = /\r?\n/.exec(trimmed);
  const requestLine = lineEnd ? trimmed.slice(0, lineEnd.index) : trimmed;
  const m = /^([A-Z]+)\s+(\S+)(?:\s+HTTP\/1\.[01])?$/.exec(requestLine.trim());
  if (!m) throw new SimError(400, "0x80060891", `The batch part does not start with a valid request line: '${requestLine.slice(0, 80)}'.`);
  const afterLine = lineEnd ? trimmed.slice(lineEnd.index + lineEnd[0].length) : "";
  // A request without headers has its blank line right after the request line.
  const { headers, rest } = /^\r?\n/.test(afterLine) ? { headers: {}, rest: afterLine.replace(/^\r?\n/, "") } : splitHeaderBlock(afterLine);
  return { method: m[1] ?? "GET", url: m[2] ?? "", headers, body: rest.replace(/(\r?\n)+$/, ""), contentId };
}

/** Parses a $batch body into requests and change sets (throws SimError 400 when malformed). */
export function parseBatch(body: string, contentType: string | undefined): BatchEntry[] {
  const boundary = boundaryOf(contentType);
  if (!boundary || !/^multipart\/mixed/i.test(contentType ?? "")) {
    throw new SimError(400, "0x80060891", "The content type of a $batch request must be multipart/mixed with a boundary.");
  }
  const entries: BatchEntry[] = [];
  for (const part of splitParts(body, boundary)) {
    const { headers, rest } = splitHeaderBlock(part);
    const type = headers["content-type"] ?? "";
    if (/^multipart\/mixed/i.test(type)) {
      const inner = boundaryOf(type);
      if (!inner) throw new SimError(400, "0x80060891", "A change set needs a boundary.");
      const requests: BatchRequestPart[] = [];
      for (const sub of splitParts(rest, inner)) {
        const { headers: h, rest: msg } = splitHeaderBlock(sub);
        if (/^multipart\//i.test(h["content-type"] ?? "")) throw new SimError(400, "0x80060891", "Change sets cannot be nested.");
        const req = parseHttpMessage(msg, h["content-id"] ?? null);
        if (req.method === "GET") throw new SimError(400, "0x80060891", "GET requests are not allowed inside a change set.");
        requests.push(req);
      }
      entries.push({ kind: "changeset", requests });
    } else {
      entries.push({ kind: "request", request: parseHttpMessage(rest, headers["content-id"] ?? null) });
    }
  }
  return entries;
}

export function countOperations(entries: BatchEntry[]): number {
  return entries.reduce((n, e) => n + (e.kind === "request" ? 1 : e.requests.length), 0);
}

function httpPart(res: SimResponse, contentId: string | null): string {
  const lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"];
  if (contentId !== null) lines.push(`Content-ID: ${contentId}`);
  lines.push("", `HTTP/1.1 ${res.status} ${statusText(res.status)}`);
  const headers = { ...(res.headers ?? {}) };
  for (const [k, v] of Object.entries(headers)) lines.push(`${canonical(k)}: ${v}`);
  lines.push("");
  if (res.json !== undefined) lines.push(JSON.stringify(res.json));
  else if (res.text !== undefined) lines.push(res.text);
  else lines.push("");
  return lines.join("\r\n");
}

function canonical(name: string): string {
  const special: Record<string, string> = { "odata-version": "OData-Version", "odata-entityid": "OData-EntityId", etag: "ETag" };
  return special[name.toLowerCase()] ?? name.split("-").map((p) => (p ? (p[0]?.toUpperCase() ?? "") + p.slice(1) : p)).join("-");
}

export type BatchResult =
  | { kind: "response"; response: SimResponse; contentId: string | null }
  | { kind: "changeset"; responses: Array<{ response: SimResponse; contentId: string | null }> };

/** Writes the multipart/mixed response body; returns body and content type. */
export function writeBatchResponse(results: BatchResult[]): { body: string; contentType: string } {
  const boundary = `batchresponse_${randomUUID()}`;
  const out: string[] = [];
  for (const r of results) {
    out.push(`--${boundary}`);
    if (r.kind === "response") {
      out.push(httpPart(r.response, r.contentId));
      continue;
    }
    const cs = `changesetresponse_${randomUUID()}`;
    out.push(`Content-Type: multipart/mixed; boundary=${cs}`, "");
    for (const item of r.responses) {
      out.push(`--${cs}`);
      out.push(httpPart(item.response, item.contentId));
    }
    out.push(`--${cs}--`);
  }
  out.push(`--${boundary}--`, "");
  return { body: out.join("\r\n"), contentType: `multipart/mixed; boundary=${boundary}` };
}
