import type { HttpResponseInit } from "@azure/functions";
import { z } from "zod";
import type { Principal } from "../auth/token-validator.js";
import { AppError } from "../errors/app-error.js";
import { acceptedResponse, cursorPosition, decodeCursor, encodeCursor, requireIfMatch, type ListQuery } from "../http/conventions.js";
import { actorFromPrincipal } from "./actor.js";
import type { UserChangeResult } from "./assign.js";
import { auditPage, type AuditFilter } from "./audit-query.js";
import { licenseErrors } from "./errors.js";
import type { Licensing } from "./composition.js";
import type { BulkBody, ChangePlan } from "./model.js";
import { jobLocation, readReportJob, readReportResult, startReportJob, SYNC_REPORT_MAX_RECORDS, type ReportFormat } from "./report-jobs.js";
import {
  activeUserLicenseRows, activeUserRowsCsv, groupLicenseErrorsPage, unusedLicensesPage, type GroupErrorsPosition, type UnusedPosition,
} from "./reports.js";
import type { LicenseRules } from "./rules.js";
import type { TrackedProduct } from "./usage.js";
import { usageCount } from "./usage.js";
import { userLicenses, userSummary } from "./user-view.js";

/**
 * The HTTP side of each license endpoint: turn validated input into a use-case call and its result
 * into a response. Function files (functions/*.ts) only wire these to their triggers.
 */
interface Headers {
  get(name: string): string | null;
}

const CSV = "text/csv; charset=utf-8";

// --- products (L1, L2) ---------------------------------------------------------------------------

/** `Cache-Control: no-cache`: read Microsoft Graph now instead of the catalog (at most 60 s old). */
const wantsFresh = (headers: Headers) => /no-cache/i.test(headers.get("cache-control") ?? "");

export async function listProducts(l: Licensing, tenantId: string, query: ListQuery, headers: Headers): Promise<HttpResponseInit> {
  const catalog = await l.catalog.get(tenantId, { fresh: wantsFresh(headers) });
  const { items, nextCursor } = offsetPage(catalog.products, tenantId, "products", query);
  return { status: 200, jsonBody: { items, nextCursor, refreshedAt: catalog.refreshedAt } };
}

export async function getProduct(l: Licensing, tenantId: string, skuId: string, headers: Headers): Promise<HttpResponseInit> {
  return { status: 200, jsonBody: await l.catalog.product(tenantId, skuId, { fresh: wantsFresh(headers) }) };
}

export async function listProductUsers(l: Licensing, tenantId: string, skuId: string, query: ListQuery): Promise<HttpResponseInit> {
  await l.catalog.product(tenantId, skuId);
  const filter = { productUsers: skuId };
  const skipToken = decodeCursor(query.cursor, tenantId, filter);
  const page = await l.graph(tenantId).listUsers({ skuId, top: query.limit, ...(skipToken ? { skipToken } : {}) });
  const items = page.items.map((u) => {
    const states = u.licenseAssignmentStates.filter((s) => s.skuId === skuId);
    return {
      ...userSummary(u),
      direct: states.some((s) => s.assignedByGroup === null) || (states.length === 0 && u.assignedLicenses.some((a) => a.skuId === skuId)),
      groups: states.flatMap((s) => (s.assignedByGroup ? [s.assignedByGroup] : [])),
    };
  });
  return { status: 200, jsonBody: { items, nextCursor: page.skipToken ? encodeCursor(tenantId, filter, page.skipToken) : null } };
}

export async function assignProduct(
  l: Licensing,
  tenantId: string,
  skuId: string,
  body: { userIds: string[]; disabledPlans?: string[] | undefined },
  principal: Principal,
): Promise<HttpResponseInit> {
  await l.catalog.product(tenantId, skuId); // 404 for a product the tenant does not have: nothing is attempted
  const outcome = await l.assignments.assignLicensesBulk({
    tenantId,
    actor: actorFromPrincipal(principal),
    changes: body.userIds.map((userId) => ({ userId, add: [{ skuId, ...(body.disabledPlans ? { disabledPlans: body.disabledPlans } : {}) }] })),
    mode: "add",
    context: { endpoint: "products-assignments-post", skuId },
  });
  return userResults(outcome.results, {}, outcome.retryAfterSeconds);
}

// --- users (L3, L5, L14) ------------------------------------------------------------------------

export async function listUsers(l: Licensing, tenantId: string, query: ListQuery & { search?: string | undefined }): Promise<HttpResponseInit> {
  const filter = { users: query.search ?? null };
  const skipToken = decodeCursor(query.cursor, tenantId, filter);
  const page = await l.graph(tenantId).listUsers({ top: query.limit, ...(query.search ? { search: query.search } : {}), ...(skipToken ? { skipToken } : {}) });
  return { status: 200, jsonBody: { items: page.items.map(userSummary), nextCursor: page.skipToken ? encodeCursor(tenantId, filter, page.skipToken) : null } };
}

export async function getUserLicenses(l: Licensing, tenantId: string, userId: string, now = new Date()): Promise<HttpResponseInit> {
  const [user, catalog] = await Promise.all([l.graph(tenantId).getUser(userId), l.catalog.get(tenantId)]);
  return { status: 200, jsonBody: { user: userSummary(user), licenses: userLicenses(user, catalog, now) } };
}

export async function assignUserLicenses(
  l: Licensing,
  tenantId: string,
  userId: string,
  body: { addLicenses: { skuId: string; disabledPlans?: string[] | undefined }[]; removeLicenses: string[] },
  principal: Principal,
): Promise<HttpResponseInit> {
  const outcome = await l.assignments.assignLicenses({
    tenantId,
    actor: actorFromPrincipal(principal),
    userId,
    add: body.addLicenses.map((a) => ({ skuId: a.skuId, ...(a.disabledPlans ? { disabledPlans: a.disabledPlans } : {}) })),
    remove: body.removeLicenses,
    context: { endpoint: "users-assignlicense-post" },
  });
  return { status: 200, jsonBody: { userId: outcome.userId, changed: outcome.changed, plan: outcome.plan } };
}

export async function setUserLicensePlans(
  l: Licensing,
  tenantId: string,
  userId: string,
  skuId: string,
  body: { disabledPlans?: string[] | null | undefined },
  principal: Principal,
): Promise<HttpResponseInit> {
  // A merge patch: null removes the list (every plan on); left out, the plans stay.
  const disabledPlans = body.disabledPlans === null ? [] : body.disabledPlans;
  const outcome = await l.assignments.assignLicenses({
    tenantId,
    actor: actorFromPrincipal(principal),
    userId,
    setPlans: [{ skuId, ...(disabledPlans ? { disabledPlans } : {}) }],
    context: { endpoint: "users-licenses-patch" },
  });
  return { status: 200, jsonBody: { userId: outcome.userId, changed: outcome.changed, plan: outcome.plan } };
}

// --- bulk (L4, L17) -----------------------------------------------------------------------------

export async function bulkChange(l: Licensing, tenantId: string, body: BulkBody, principal: Principal): Promise<HttpResponseInit> {
  const outcome = await l.assignments.assignLicensesBulk({
    tenantId,
    actor: actorFromPrincipal(principal),
    changes: body.userIds.map((userId) => ({ userId, add: body.addLicenses, remove: body.removeLicenses })),
    mode: body.mode,
    dryRun: body.dryRun,
    context: { endpoint: "licenses-bulk-post" },
  });
  if (body.dryRun) {
    // The same status the real run would answer: 207 when a user would fail (L17).
    const status = outcome.results.some((r) => r.outcome === "failed") ? 207 : 200;
    return { status, jsonBody: { dryRun: true, shortages: outcome.shortages, results: outcome.results.map(resultView) } };
  }
  return userResults(outcome.results, { dryRun: false, shortages: [] }, outcome.retryAfterSeconds);
}

// --- rules (L6) ---------------------------------------------------------------------------------

export async function getRules(l: Licensing, tenantId: string): Promise<HttpResponseInit> {
  const { document, etag } = await l.rules.read(tenantId);
  return { status: 200, headers: { ETag: etag }, jsonBody: document };
}

export async function putRules(l: Licensing, tenantId: string, rules: LicenseRules, headers: Headers, principal: Principal): Promise<HttpResponseInit> {
  const ifMatch = requireIfMatch(headers);
  await l.rules.replace(tenantId, rules, ifMatch, actorFromPrincipal(principal));
  const { document, etag } = await l.rules.read(tenantId);
  return { status: 200, headers: { ETag: etag }, jsonBody: document };
}

// --- reports (L13, L19, L20) ----------------------------------------------------------------------

export async function activeUserReport(
  l: Licensing,
  tenantId: string,
  query: { format?: ReportFormat | undefined },
  headers: Headers,
  principal: Principal,
  now = new Date(),
): Promise<HttpResponseInit> {
  const format: ReportFormat = query.format ?? (/\btext\/csv\b/i.test(headers.get("accept") ?? "") ? "csv" : "json");
  const usage = l.runtime.container("usage");
  const async = /\brespond-async\b/i.test(headers.get("prefer") ?? "") || (await usageCount(usage, tenantId)) > SYNC_REPORT_MAX_RECORDS;
  if (async) {
    const job = await startReportJob(l.runtime.container("reports"), l.runtime.eventQueue, tenantId, format, principal.objectId, now);
    return acceptedResponse(job.id, job.status, jobLocation(tenantId, job.id));
  }
  const content = await buildActiveUserReport(l, tenantId, format, now);
  return reportResponse(format, content.content);
}

/** Builds the L13 report (used inline and by the job). */
export async function buildActiveUserReport(l: Licensing, tenantId: string, format: ReportFormat, now = new Date()): Promise<{ content: string; rowCount: number }> {
  const catalog = await l.catalog.get(tenantId);
  const rows = await activeUserLicenseRows({ usage: l.runtime.container("usage"), graph: l.graph(tenantId), catalog }, tenantId);
  return {
    content: format === "csv" ? activeUserRowsCsv(rows) : JSON.stringify({ items: rows, generatedAt: now.toISOString() }),
    rowCount: rows.length,
  };
}

export async function reportJob(l: Licensing, tenantId: string, jobId: string): Promise<HttpResponseInit> {
  return { status: 200, jsonBody: await readReportJob(l.runtime.container("reports"), tenantId, jobId) };
}

export async function reportJobResult(l: Licensing, tenantId: string, jobId: string): Promise<HttpResponseInit> {
  const { job, content } = await readReportResult(l.runtime.container("reports"), tenantId, jobId);
  return reportResponse(job.format, content);
}

function reportResponse(format: ReportFormat, content: string): HttpResponseInit {
  return format === "csv"
    ? { status: 200, headers: { "Content-Type": CSV, "Content-Disposition": 'attachment; filename="active-user-licenses.csv"' }, body: content }
    : { status: 200, headers: { "Content-Type": "application/json" }, body: content };
}

export async function unusedLicenses(
  l: Licensing,
  tenantId: string,
  query: ListQuery & { days: number; product?: TrackedProduct | undefined },
  now = new Date(),
): Promise<HttpResponseInit> {
  const filter = { unused: query.days, product: query.product ?? null };
  const raw = decodeCursor(query.cursor, tenantId, filter);
  const position: UnusedPosition | undefined = raw ? cursorPosition(raw, z.object({ s: z.string().nullable(), o: z.number().int().min(0), r: z.number().int().min(0).optional() })) : undefined;
  const catalog = await l.catalog.get(tenantId);
  const page = await unusedLicensesPage({ usage: l.runtime.container("usage"), graph: l.graph(tenantId), catalog }, tenantId, {
    days: query.days, limit: query.limit, now, ...(query.product ? { product: query.product } : {}), ...(position ? { position } : {}),
  });
  return { status: 200, jsonBody: { items: page.items, nextCursor: page.next ? encodeCursor(tenantId, filter, JSON.stringify(page.next)) : null } };
}

export async function groupLicenseErrors(l: Licensing, tenantId: string, query: ListQuery): Promise<HttpResponseInit> {
  const filter = { groupLicenseErrors: true };
  const raw = decodeCursor(query.cursor, tenantId, filter);
  const position: GroupErrorsPosition | undefined = raw ? cursorPosition(raw, z.object({ g: z.number().int().min(0), s: z.string().nullable(), o: z.number().int().min(0).optional() })) : undefined;
  const catalog = await l.catalog.get(tenantId);
  const page = await groupLicenseErrorsPage({ graph: l.graph(tenantId), catalog }, { limit: query.limit, ...(position ? { position } : {}) });
  return { status: 200, jsonBody: { items: page.items, nextCursor: page.next ? encodeCursor(tenantId, filter, JSON.stringify(page.next)) : null } };
}

// --- audit (L16) --------------------------------------------------------------------------------

const DEFAULT_AUDIT_DAYS = 30;

export async function listAudit(
  l: Licensing,
  tenantId: string,
  query: ListQuery & { from?: string | undefined; to?: string | undefined; userId?: string | undefined; actor?: string | undefined; action?: string | undefined },
  now = new Date(),
): Promise<HttpResponseInit> {
  // The cursor is bound to the filter as asked; the time range it resolved to travels inside it,
  // so later pages run the same query (a default "now" would move between pages).
  const asked = { from: query.from ?? null, to: query.to ?? null, userId: query.userId?.toLowerCase() ?? null, actor: query.actor ?? null, action: query.action ?? null };
  const raw = decodeCursor(query.cursor, tenantId, asked);
  const position = raw ? cursorPosition(raw, z.object({ from: z.iso.datetime(), to: z.iso.datetime(), token: z.string() })) : undefined;
  const to = position ? new Date(position.to) : query.to ? new Date(query.to) : now;
  const from = position ? new Date(position.from) : query.from ? new Date(query.from) : new Date(to.getTime() - DEFAULT_AUDIT_DAYS * 86_400_000);
  if (from > to) throw new AppError("validation", "`from` is after `to`.", { errors: [{ path: "query.from", message: "must not be after to" }] });
  const filter: AuditFilter = {
    from: from.toISOString(),
    to: to.toISOString(),
    ...(asked.userId ? { userId: asked.userId } : {}),
    ...(asked.actor ? { actor: asked.actor } : {}),
    ...(asked.action ? { action: asked.action } : {}),
  };
  const page = await auditPage(l.runtime.container("audit"), tenantId, filter, query.limit, position?.token);
  const nextCursor = page.continuationToken
    ? encodeCursor(tenantId, asked, JSON.stringify({ from: filter.from, to: filter.to, token: page.continuationToken }))
    : null;
  return { status: 200, jsonBody: { items: page.items, nextCursor } };
}

export async function verifyAudit(l: Licensing, tenantId: string): Promise<HttpResponseInit> {
  return { status: 200, jsonBody: await l.runtime.audit.verify(tenantId) };
}

// --- shaping ------------------------------------------------------------------------------------

function resultView(r: UserChangeResult): { userId: string; outcome: UserChangeResult["outcome"]; error?: { code: string; message: string }; plan?: ChangePlan } {
  return {
    userId: r.userId,
    outcome: r.outcome,
    ...(r.error ? { error: { code: r.error.code, message: r.error.message } } : {}),
    ...(r.plan ? { plan: r.plan } : {}),
  };
}

/**
 * Calls about several users: 200 when every user succeeded or was skipped, 207 when any failed
 * (with Retry-After when a user's change was throttled, waited too long or is unknown); 503 `throttled` with Retry-After when
 * Graph throttled every user past the budget (nothing was done). A change Graph did not confirm
 * (`outcome-unknown`) may have been made: it is always a user's result, never "nothing was changed".
 */
function userResults(results: readonly UserChangeResult[], extra: Record<string, unknown>, retryAfterSeconds?: number): HttpResponseInit {
  const failed = results.filter((r) => r.outcome === "failed");
  if (failed.length > 0 && failed.length === results.length && failed.every((r) => r.error?.code === "throttled")) {
    throw licenseErrors.throttled(Number(failed[0]?.error?.extensions?.upstreamStatus) || 429, retryAfterSeconds ?? 5, "nothing was changed for any user");
  }
  const status = failed.length > 0 ? 207 : 200;
  return {
    status,
    ...(retryAfterSeconds !== undefined ? { headers: { "Retry-After": String(Math.max(1, Math.ceil(retryAfterSeconds))) } } : {}),
    jsonBody: { ...extra, results: results.map(resultView) },
  };
}

/** Offset paging of a small in-memory list, with a cursor bound to the tenant and the list. */
function offsetPage<T>(all: readonly T[], tenantId: string, list: string, query: ListQuery): { items: T[]; nextCursor: string | null } {
  const raw = decodeCursor(query.cursor, tenantId, { list });
  const offset = raw === undefined ? 0 : Number(raw);
  if (!Number.isInteger(offset) || offset < 0) throw new AppError("validation", "The cursor is not valid for this list.", { errors: [{ path: "cursor", message: "invalid" }] });
  const items = all.slice(offset, offset + query.limit);
  return { items, nextCursor: offset + query.limit < all.length ? encodeCursor(tenantId, { list }, String(offset + query.limit)) : null };
}

