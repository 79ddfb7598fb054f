import { randomUUID } from "node:crypto";
import type { TokenCredential } from "@azure/identity";
import { z } from "zod";
import { AppError } from "../errors/app-error.js";
import { SYSTEMUSER_COLUMNS, systemUserRowSchema, type SystemUserRow } from "../sync/model.js";
import { meter } from "../sync/metrics.js";
import type { RetryBudget } from "./graph.js";
import { msFetch, readError, realSleep, retryAfterFromHeader, type MsRequestInit, type MsResponse } from "./ms-http.js";
import { parseUpstream } from "./upstream-body.js";
import { isGuid } from "../ids.js";

/**
 * A small Dataverse Web API adapter (v9.2) for what the sync needs: `systemusers` reads, `$batch`
 * (multipart/mixed, no change sets, continue-on-error, per-item 429 retried after its
 * Retry-After), and the few single calls of the admin endpoints. Paging follows the service's
 * `$skiptoken` but rebuilds every URL from the environment's own base: nothing a response or a
 * caller supplies is ever fetched as a URL (D15).
 */
export const MAX_DATAVERSE_BATCH = 1000;
/** Object ids per `or` filter: keeps a GET well inside URL length limits. */
const IDS_PER_FILTER = 50;
/** GET parts per `$batch` when reading records by object id. */
const READS_PER_BATCH = 20;

export interface BatchOperation {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  /** Relative to the API root, e.g. `systemusers(<id>)`. */
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface BatchOperationResult {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export interface DataverseClientOptions {
  /** From the Power Platform admin API only (already checked by trustedDataverseUrl). */
  instanceUrl: string;
  credential: TokenCredential;
  budget: RetryBudget;
  deadline?: number;
  sleep?: (ms: number) => Promise<void>;
}

export class DataverseClient {
  readonly apiBase: string;
  private readonly scope: string;
  deadline: number | undefined;

  constructor(private readonly opts: DataverseClientOptions) {
    const root = opts.instanceUrl.replace(/\/+$/, "");
    this.apiBase = `${root}/api/data/v9.2`;
    this.scope = `${root}/.default`;
    this.deadline = opts.deadline;
  }

  private fetch(url: string, init: MsRequestInit): Promise<MsResponse> {
    return meter.time("dataverse", () =>
      msFetch(url, init, {
        credential: this.opts.credential,
        scope: this.scope,
        budget: this.opts.budget,
        service: "Dataverse",
        ...(this.deadline !== undefined && { deadline: this.deadline }),
        ...(this.opts.sleep && { sleep: this.opts.sleep }),
      }),
    );
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { Accept: "application/json", "OData-MaxVersion": "4.0", "OData-Version": "4.0", ...extra };
  }

  /** One page of systemusers (creation order); `skipToken` from the previous page. */
  async listSystemUsers(opts: { pageSize: number; skipToken?: string | null; filter?: string }): Promise<{ rows: SystemUserRow[]; skipToken: string | null }> {
    const params = new URLSearchParams({ $select: SYSTEMUSER_COLUMNS.join(",") });
    if (opts.filter) params.set("$filter", opts.filter);
    if (opts.skipToken) params.set("$skiptoken", opts.skipToken);
    const response = await this.fetch(`${this.apiBase}/systemusers?${params.toString()}`, {
      headers: this.headers({ Prefer: `odata.maxpagesize=${opts.pageSize}` }),
    });
    if (!response.ok) throw await dataverseError(response, "reading systemusers");
    const body = parseUpstream(systemUserPageSchema, await response.json(), "Dataverse (systemusers)");
    return { rows: parseRows(body.value), skipToken: skipTokenOf(body["@odata.nextLink"] ?? undefined) };
  }

  /** Every systemuser, page by page. */
  async *allSystemUsers(pageSize = 5000): AsyncGenerator<SystemUserRow[]> {
    let skipToken: string | null = null;
    do {
      const page = await this.listSystemUsers({ pageSize, skipToken });
      yield page.rows;
      skipToken = page.skipToken;
    } while (skipToken);
  }

  /** The records of these Entra object ids (missing ones are simply absent), read in `$batch`es. */
  async systemUsersByObjectIds(objectIds: readonly string[]): Promise<SystemUserRow[]> {
    const ops: BatchOperation[] = [];
    for (let i = 0; i < objectIds.length; i += IDS_PER_FILTER) {
      const filter = objectIds.slice(i, i + IDS_PER_FILTER).map((id) => `azureactivedirectoryobjectid eq ${guid(id)}`).join(" or ");
      const params = new URLSearchParams({ $select: SYSTEMUSER_COLUMNS.join(","), $filter: filter });
      ops.push({ method: "GET", path: `systemusers?${params.toString()}` });
    }
    const rows: SystemUserRow[] = [];
    for (let i = 0; i < ops.length; i += READS_PER_BATCH) {
      const results = await this.batch(ops.slice(i, i + READS_PER_BATCH));
      const failed = results.find((r) => r.status !== 200 && !isThrottled(r));
      if (failed) throw new AppError("upstream", `Dataverse answered ${failed.status} reading systemusers in a batch.`, { extensions: { upstreamStatus: failed.status } });
      // Throttled past the budget or the deadline: not a failure of the data, so retried later (D12).
      const throttled = results.find(isThrottled);
      if (throttled) {
        throw new AppError("unavailable", `Dataverse is throttling or unavailable (${throttled.status}) reading systemusers in a batch; try again later.`, {
          retryAfterSeconds: throttledRetryAfter(results) ?? THROTTLED_ITEM_DEFAULT_RETRY_AFTER_SECONDS, extensions: { upstreamStatus: throttled.status },
        });
      }
      for (const r of results) rows.push(...parseRows(parseUpstream(systemUserPageSchema, r.body, "Dataverse (systemusers in a $batch)").value));
    }
    return rows;
  }

  async systemUserByObjectId(objectId: string): Promise<SystemUserRow | null> {
    const page = await this.listSystemUsers({ pageSize: 2, filter: `azureactivedirectoryobjectid eq ${guid(objectId)}` });
    return page.rows[0] ?? null;
  }

  async getSystemUser(systemUserId: string): Promise<SystemUserRow | null> {
    const response = await this.fetch(`${this.apiBase}/systemusers(${guid(systemUserId)})?$select=${SYSTEMUSER_COLUMNS.join(",")}`, { headers: this.headers() });
    if (response.status === 404) return null;
    if (!response.ok) throw await dataverseError(response, "reading a systemuser");
    return parseUpstream(systemUserRowSchema, await response.json(), "Dataverse (a systemuser)");
  }

  /**
   * Runs operations as one `$batch` (each on its own: no change set, continue on error). Items
   * answered 429 are sent again after the longest Retry-After among them, within the budget.
   */
  async batch(operations: readonly BatchOperation[]): Promise<BatchOperationResult[]> {
    if (operations.length > MAX_DATAVERSE_BATCH) throw new RangeError(`A Dataverse $batch holds at most ${MAX_DATAVERSE_BATCH} operations.`);
    const results: (BatchOperationResult | undefined)[] = new Array<BatchOperationResult | undefined>(operations.length);
    let pending = operations.map((op, index) => ({ op, index }));
    const sleep = this.opts.sleep ?? realSleep;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const answers = await this.sendBatch(pending.map((p) => p.op));
      const retry: typeof pending = [];
      let wait = 0;
      pending.forEach((p, i) => {
        const answer = answers[i] ?? { status: 502, headers: {}, body: null };
        if (isThrottled(answer) && attempt <= this.opts.budget.maxRetries) {
          const after = retryAfterFromHeader(answer.headers["retry-after"], 2 ** (attempt - 1));
          if (after <= this.opts.budget.maxDelaySeconds && (this.deadline === undefined || Date.now() + after * 1000 < this.deadline)) {
            retry.push(p);
            wait = Math.max(wait, after);
            return;
          }
        }
        results[p.index] = answer;
      });
      pending = retry;
      if (pending.length) await sleep(wait * 1000);
    }
    return results.map((r) => r ?? { status: 502, headers: {}, body: null });
  }

  private async sendBatch(operations: readonly BatchOperation[]): Promise<BatchOperationResult[]> {
    const boundary = `batch_${randomUUID()}`;
    const response = await this.fetch(`${this.apiBase}/$batch`, {
      method: "POST",
      headers: this.headers({ "Content-Type": `multipart/mixed; boundary=${boundary}`, Prefer: "odata.continue-on-error" }),
      body: buildBatchBody(this.apiBase, boundary, operations),
    });
    if (!response.ok && !(response.headers.get("content-type") ?? "").startsWith("multipart/mixed")) {
      throw await dataverseError(response, "running a $batch");
    }
    const parts = parseBatchResponse(await response.text(), response.headers.get("content-type") ?? "");
    if (parts.length < operations.length && response.ok) {
      throw new AppError("upstream", `Dataverse answered a $batch of ${operations.length} operations with ${parts.length} results.`);
    }
    return parts;
  }

  async createSystemUser(body: Record<string, unknown>): Promise<SystemUserRow> {
    const response = await this.fetch(`${this.apiBase}/systemusers?$select=${SYSTEMUSER_COLUMNS.join(",")}`, {
      method: "POST",
      headers: this.headers({ "Content-Type": "application/json", Prefer: "return=representation" }),
      body: JSON.stringify(body),
    });
    if (!response.ok) throw await dataverseError(response, "creating a systemuser");
    return parseUpstream(systemUserRowSchema, await response.json(), "Dataverse (a systemuser)");
  }

  /** Updates an existing record only (`If-Match: *`: a PATCH never creates one). */
  async patchSystemUser(systemUserId: string, patch: Record<string, unknown>): Promise<void> {
    const response = await this.fetch(`${this.apiBase}/systemusers(${guid(systemUserId)})`, {
      method: "PATCH",
      headers: this.headers({ "Content-Type": "application/json", "If-Match": "*" }),
      body: JSON.stringify(patch),
    });
    if (!response.ok) throw await dataverseError(response, "updating a systemuser");
    await response.arrayBuffer();
  }

  async listRoles(): Promise<{ roleid: string; name: string }[]> {
    const response = await this.fetch(`${this.apiBase}/roles?$select=roleid,name`, { headers: this.headers() });
    if (!response.ok) throw await dataverseError(response, "reading security roles");
    const body = (await response.json()) as { value?: { roleid?: unknown; name?: unknown }[] };
    return (body.value ?? []).flatMap((r) => (typeof r.roleid === "string" ? [{ roleid: r.roleid.toLowerCase(), name: typeof r.name === "string" ? r.name : "" }] : []));
  }

  /** The root business unit (new application users belong to it). */
  async rootBusinessUnitId(): Promise<string> {
    const response = await this.fetch(`${this.apiBase}/businessunits?$select=businessunitid&$filter=_parentbusinessunitid_value eq null`, { headers: this.headers() });
    if (!response.ok) throw await dataverseError(response, "reading the root business unit");
    const body = (await response.json()) as { value?: { businessunitid?: unknown }[] };
    const id = body.value?.[0]?.businessunitid;
    if (typeof id !== "string") throw new AppError("upstream", "Dataverse reported no root business unit.");
    return id;
  }

  /** How many non-interactive users (access mode 4, not application users) the environment has. */
  async countNonInteractiveUsers(): Promise<number> {
    const page = await this.listSystemUsers({ pageSize: 5000, filter: "accessmode eq 4 and applicationid eq null" });
    return page.rows.length;
  }

  /** A batch operation associating a security role with a user (D14). */
  static associateRole(apiBase: string, systemUserId: string, roleId: string): BatchOperation {
    return { method: "POST", path: `systemusers(${guid(systemUserId)})/systemuserroles_association/$ref`, body: { "@odata.id": `${apiBase}/roles(${guid(roleId)})` } };
  }
}

/** A GUID for an OData URL (refuses anything else, so no caller text reaches a URL). */
function guid(value: string): string {
  if (!isGuid(value)) throw new AppError("validation", `"${value}" is not a GUID.`);
  return value.toLowerCase();
}

const systemUserPageSchema = z.object({ value: z.array(z.unknown()), "@odata.nextLink": z.string().nullish() });

function parseRows(values: unknown[]): SystemUserRow[] {
  return values.map((v) => parseUpstream(systemUserRowSchema, v, "Dataverse (a systemuser)"));
}

function skipTokenOf(nextLink: string | undefined): string | null {
  if (!nextLink) return null;
  try {
    return new URL(nextLink).searchParams.get("$skiptoken");
  } catch {
    return null;
  }
}

export function buildBatchBody(apiBase: string, boundary: string, operations: readonly BatchOperation[]): string {
  const lines: string[] = [];
  operations.forEach((op, i) => {
    lines.push(`--${boundary}`, "Content-Type: application/http", "Content-Transfer-Encoding: binary", `Content-ID: ${i + 1}`, "");
    lines.push(`${op.method} ${apiBase}/${op.path} HTTP/1.1`);
    const headers: Record<string, string> = { ...(op.body !== undefined && { "Content-Type": "application/json" }), ...op.headers };
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    lines.push("");
    lines.push(op.body !== undefined ? JSON.stringify(op.body) : "");
  });
  lines.push(`--${boundary}--`, "");
  return lines.join("\r\n");
}

/** The parts of a multipart/mixed `$batch` answer, in order (change-set answers flattened). */
export function parseBatchResponse(text: string, contentType: string): BatchOperationResult[] {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const b = boundary?.[1] ?? boundary?.[2];
  if (!b) throw new AppError("upstream", "Dataverse answered a $batch without a multipart boundary.");
  const out: BatchOperationResult[] = [];
  for (const part of splitParts(text, b)) {
    const { headers, body } = splitHead(part);
    const type = headers["content-type"] ?? "";
    if (/^multipart\/mixed/i.test(type)) {
      out.push(...parseBatchResponse(body, type));
      continue;
    }
    out.push(parseHttpResponse(body));
  }
  return out;
}

function splitParts(body: string, boundary: string): string[] {
  const chunks = body.split(`--${boundary}`);
  const parts: string[] = [];
  for (let i = 1; i < chunks.length; i++) {
    const chunk = chunks[i] ?? "";
    if (chunk.startsWith("--")) break;
    parts.push(chunk.replace(/^\r?\n/, ""));
  }
  return parts;
}

function splitHead(text: string): { headers: Record<string, string>; body: string } {
  const match = /\r?\n\r?\n/.exec(text);
  const head = match ? text.slice(0, match.index) : text;
  const body = match ? text.slice(match.index + match[0].length) : "";
  const headers: Record<string, string> = {};
  for (const line of head.split(/\r?\n/)) {
    const idx = line.indexOf(":");
    if (idx > 0) headers[line.slice(0, idx).trim().toLowerCase()] = line.slice(idx + 1).trim();
  }
  return { headers, body };
}

function parseHttpResponse(text: string): BatchOperationResult {
  const trimmed = text.replace(/^(\r?\n)+/, "");
  const lineEnd = /\r?\n/.exec(trimmed);
  const statusLine = lineEnd ? trimmed.slice(0, lineEnd.index) : trimmed;
  const status = Number(/^HTTP\/1\.[01]\s+(\d{3})/.exec(statusLine)?.[1] ?? "502");
  const rest = lineEnd ? trimmed.slice(lineEnd.index + lineEnd[0].length) : "";
  const { headers, body } = /^\r?\n/.test(rest) ? { headers: {}, body: rest.replace(/^\r?\n/, "") } : splitHead(rest);
  const raw = body.replace(/(\r?\n)+$/, "").trim();
  let parsed: unknown = raw;
  if (raw.startsWith("{") || raw.startsWith("[")) {
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = raw;
    }
  }
  return { status, headers, body: raw === "" ? null : parsed };
}

/** How long items throttled inside a batch wait when none of them says (no Retry-After). */
export const THROTTLED_ITEM_DEFAULT_RETRY_AFTER_SECONDS = 30;

/** A batch item still throttled (429) or unavailable (503) after the batch's own retries. */
export function isThrottled(result: BatchOperationResult): boolean {
  return result.status === 429 || result.status === 503;
}

/**
 * The longest Retry-After among the throttled items of a batch's answer (the default when none of
 * them carries one); null when no item is throttled.
 */
export function throttledRetryAfter(results: readonly BatchOperationResult[]): number | null {
  const throttled = results.filter(isThrottled);
  if (!throttled.length) return null;
  // 0 = this item gave no Retry-After.
  const longest = Math.max(...throttled.map((r) => retryAfterFromHeader(r.headers["retry-after"], 0)));
  return longest > 0 ? longest : THROTTLED_ITEM_DEFAULT_RETRY_AFTER_SECONDS;
}

/** The `{error: {code, message}}` of a batch item. */
export function batchItemError(result: BatchOperationResult): { code: string; message: string } {
  const error = (result.body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const fallback = typeof result.body === "string" ? result.body : JSON.stringify(result.body ?? "");
  return { code: typeof error?.code === "string" ? error.code : "", message: typeof error?.message === "string" ? error.message : fallback };
}

async function dataverseError(response: MsResponse, what: string): Promise<AppError> {
  const error = await readError(response);
  if (response.status === 404) return new AppError("notFound", `Dataverse: not found when ${what}.`);
  return new AppError("upstream", `Dataverse answered ${response.status} ${error.code} when ${what}: ${error.message}`, {
    extensions: { upstreamStatus: response.status, upstreamCode: error.code },
  });
}

/** For the sync's lookups of who the platform just added. */
export function rowsByObjectId(rows: readonly SystemUserRow[]): Map<string, SystemUserRow> {
  const out = new Map<string, SystemUserRow>();
  for (const r of rows) if (r.azureactivedirectoryobjectid) out.set(r.azureactivedirectoryobjectid.toLowerCase(), r);
  return out;
}

