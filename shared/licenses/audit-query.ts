import type { Container } from "@azure/cosmos";
import { z } from "zod";
import type { AuditRecord } from "../audit/audit-log.js";
import { queryPage } from "../storage/repository.js";

/**
 * L16: the audit trail by time range, user (the changed user) and actor, newest first. A record
 * names its user as `target.id` or, for a change of several users, in `context.userIds`.
 */
export const auditRecordViewSchema = z.object({
  seq: z.number().int(),
  at: z.string(),
  actor: z.object({ type: z.enum(["user", "application", "system"]), id: z.string(), name: z.string().optional() }),
  action: z.string(),
  target: z.object({ type: z.string(), id: z.string() }).optional(),
  phase: z.enum(["intent", "outcome", "record"]).optional(),
  intentId: z.string().optional(),
  before: z.unknown().optional(),
  after: z.unknown().optional(),
  outcome: z.enum(["succeeded", "failed", "skipped", "unknown"]).optional(),
  reason: z.string().optional(),
  context: z.record(z.string(), z.unknown()).optional(),
  id: z.string(),
  hash: z.string(),
  prevHash: z.string(),
});
export type AuditRecordView = z.infer<typeof auditRecordViewSchema>;

export interface AuditFilter {
  from: string;
  to: string;
  userId?: string;
  actor?: string;
  action?: string;
}

export async function auditPage(container: Container, tenantId: string, filter: AuditFilter, limit: number, continuationToken?: string) {
  const where = ["c.tenantId = @t", "c.type = 'audit'", "c.at >= @from", "c.at <= @to"];
  const parameters = [
    { name: "@t", value: tenantId },
    { name: "@from", value: filter.from },
    { name: "@to", value: filter.to },
  ];
  if (filter.userId) {
    where.push("(c.target.id = @u OR ARRAY_CONTAINS(c.context.userIds, @u))");
    parameters.push({ name: "@u", value: filter.userId });
  }
  if (filter.actor) {
    // Also the events a caller (relay) sent: their failures (context.caller) and the claims made for them (context.callers).
    where.push("(c.actor.id = @a OR c.context.caller = @a OR ARRAY_CONTAINS(c.context.callers, @a))");
    parameters.push({ name: "@a", value: filter.actor });
  }
  if (filter.action) {
    where.push("c.action = @act");
    parameters.push({ name: "@act", value: filter.action });
  }
  const page = await queryPage<AuditRecord>(
    container,
    { query: `SELECT * FROM c WHERE ${where.join(" AND ")} ORDER BY c.seq DESC`, parameters },
    { limit, continuationToken: continuationToken ?? null },
  );
  return { items: page.items.map(toView), continuationToken: page.continuationToken };
}

function toView(r: AuditRecord): AuditRecordView {
  return {
    seq: r.seq, at: r.at, actor: r.actor, action: r.action, id: r.id, hash: r.hash, prevHash: r.prevHash,
    ...(r.target ? { target: r.target } : {}),
    ...(r.phase ? { phase: r.phase } : {}),
    ...(r.intentId ? { intentId: r.intentId } : {}),
    ...(r.before !== undefined ? { before: r.before } : {}),
    ...(r.after !== undefined ? { after: r.after } : {}),
    ...(r.outcome ? { outcome: r.outcome } : {}),
    ...(r.reason ? { reason: r.reason } : {}),
    ...(r.context ? { context: r.context } : {}),
  };
}
