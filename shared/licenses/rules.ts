import type { Container } from "@azure/cosmos";
import { ifMatchAccepts, writeMatchingAny } from "../http/conventions.js";
import { z } from "zod";
import { AppError } from "../errors/app-error.js";
import type { AuditLog } from "../audit/audit-log.js";
import { createItem, readItem, replaceIfMatch } from "../storage/repository.js";
import { auditActorOf, type AuditActor } from "./actor.js";
import { servicePlanIdSchema } from "./model.js";

/**
 * L6: service plans that cannot be on together, and plans that need another plan, as data. Graph
 * publishes no such table, so the product ships defaults (below) and each tenant's admins may edit
 * theirs (PUT /license-rules, with If-Match). A conflict Graph reports that the table did not know
 * is mapped to the same error (assign.ts).
 */
export const licenseRulesSchema = z.object({
  mutuallyExclusive: z
    .array(
      z
        .object({
          servicePlanIds: z
            .array(servicePlanIdSchema)
            .length(2)
            // A plan "exclusive with itself" could never be on: its product could be assigned to nobody.
            .refine(([a, b]) => a?.toLowerCase() !== b?.toLowerCase(), { message: "two different service plans" }),
          /** Shown with the error: what the admin can do. */
          advice: z.string().max(500).optional(),
        })
        .strict(),
    )
    .max(1000),
  prerequisites: z
    .array(
      z
        .object({
          servicePlanId: servicePlanIdSchema,
          /** At least one of these must be on for the plan to be on. */
          requiresAnyOf: z.array(servicePlanIdSchema).min(1).max(50),
          advice: z.string().max(500).optional(),
        })
        .strict()
        .refine((r) => !r.requiresAnyOf.some((id) => id.toLowerCase() === r.servicePlanId.toLowerCase()), {
          message: "a plan cannot be its own prerequisite",
          path: ["requiresAnyOf"],
        }),
    )
    .max(1000),
}).strict();
export type LicenseRules = z.infer<typeof licenseRulesSchema>;

export const licenseRulesDocumentSchema = licenseRulesSchema.extend({
  /** True while the tenant has not edited the shipped defaults. */
  isDefault: z.boolean(),
  updatedAt: z.string().nullable(),
  updatedBy: z.string().nullable(),
});

/**
 * PUT's body: the rules, and - so that what GET answered can be sent back as it is - the document's
 * read-only fields, which are ignored.
 */
export const licenseRulesPutBodySchema = licenseRulesSchema
  .extend({
    isDefault: z.boolean().optional().describe("Read-only (as GET answers it): ignored"),
    updatedAt: z.string().nullable().optional().describe("Read-only (as GET answers it): ignored"),
    updatedBy: z.string().nullable().optional().describe("Read-only (as GET answers it): ignored"),
  })
  .transform(({ mutuallyExclusive, prerequisites }): LicenseRules => ({ mutuallyExclusive, prerequisites }));

/** The shipped defaults (real Microsoft plan ids). */
export const DEFAULT_LICENSE_RULES: LicenseRules = {
  mutuallyExclusive: [
    {
      // EXCHANGE_S_STANDARD (Exchange Online Plan 1) and EXCHANGE_S_ENTERPRISE (Plan 2, in E3/E5).
      servicePlanIds: ["9aaf7827-d63c-4b61-89c3-182f06f82e5c", "efb87545-963c-4e0d-99df-69c6916d9eb0"],
      advice: "A user can have one Exchange Online mailbox plan: switch Exchange off in one of the two licenses, or remove one of them.",
    },
  ],
  prerequisites: [
    {
      // MCOEV (Teams Phone) needs MCOSTANDARD (Skype for Business Online / Teams calling), e.g. from E3.
      servicePlanId: "4828c8ec-dc2e-4779-b502-87ac9ce28ab7",
      requiresAnyOf: ["0feaeb32-d00e-4d66-bd5a-43b5b83db82c"],
      advice: "Teams Phone needs the Skype for Business Online plan of an Office 365 or Microsoft 365 license: assign one first, or switch that plan on.",
    },
  ],
};

interface RulesDocument extends LicenseRules {
  id: "license-rules";
  tenantId: string;
  type: "license-rules";
  updatedAt: string;
  updatedBy: string;
}

/** The ETag of a tenant that has never saved rules (what GET shows and PUT's If-Match accepts). */
export const DEFAULT_RULES_ETAG = '"default"';
const RULES_CACHE_MS = 15_000;

export class LicenseRulesStore {
  private readonly cache = new Map<string, { rules: LicenseRules; at: number }>();

  constructor(
    /** The `settings` container (partition key /tenantId). */
    private readonly container: Container,
    private readonly audit: AuditLog,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async read(tenantId: string): Promise<{ document: z.infer<typeof licenseRulesDocumentSchema>; etag: string }> {
    const doc = await readItem<RulesDocument>(this.container, "license-rules", tenantId);
    if (!doc) return { document: { ...DEFAULT_LICENSE_RULES, isDefault: true, updatedAt: null, updatedBy: null }, etag: DEFAULT_RULES_ETAG };
    return {
      document: { mutuallyExclusive: doc.mutuallyExclusive, prerequisites: doc.prerequisites, isDefault: false, updatedAt: doc.updatedAt, updatedBy: doc.updatedBy },
      etag: doc._etag,
    };
  }

  /** The rules the assignment checks use; re-read at most every 15 s (and at once after a PUT here). */
  async current(tenantId: string): Promise<LicenseRules> {
    const hit = this.cache.get(tenantId);
    if (hit && Date.now() - hit.at < RULES_CACHE_MS) return hit.rules;
    const { document } = await this.read(tenantId);
    const rules = { mutuallyExclusive: document.mutuallyExclusive, prerequisites: document.prerequisites };
    this.cache.set(tenantId, { rules, at: Date.now() });
    return rules;
  }

  /** Replaces the tenant's rules; `ifMatch` must be the ETag last read (412 otherwise; `*`: whatever is stored). Audited. */
  replace(tenantId: string, rules: LicenseRules, ifMatch: string, actor: AuditActor): Promise<{ etag: string }> {
    return writeMatchingAny(ifMatch, () => this.replaceOnce(tenantId, rules, ifMatch, actor));
  }

  private async replaceOnce(tenantId: string, rules: LicenseRules, ifMatch: string, actor: AuditActor): Promise<{ etag: string }> {
    const existing = await readItem<RulesDocument>(this.container, "license-rules", tenantId);
    const doc: RulesDocument = {
      id: "license-rules", tenantId, type: "license-rules", ...rules, updatedAt: this.now().toISOString(), updatedBy: actor.id,
    };
    let stored;
    if (!existing) {
      if (!ifMatchAccepts(ifMatch, DEFAULT_RULES_ETAG)) throw stale();
      try {
        stored = await createItem(this.container, doc);
      } catch (err) {
        if (err instanceof AppError && err.kind === "conflict") throw stale();
        throw err;
      }
    } else {
      if (!ifMatchAccepts(ifMatch, existing._etag)) throw stale();
      stored = await replaceIfMatch(this.container, doc, existing._etag);
    }
    this.cache.delete(tenantId);
    await this.audit.append(tenantId, {
      actor: auditActorOf(actor),
      action: "license-rules.replace",
      target: { type: "license-rules", id: tenantId },
      phase: "record",
      before: existing ? { mutuallyExclusive: existing.mutuallyExclusive, prerequisites: existing.prerequisites } : DEFAULT_LICENSE_RULES,
      after: rules,
      outcome: "succeeded",
    });
    return { etag: stored._etag };
  }
}

const stale = () => new AppError("preconditionFailed", "The license rules changed since you read them: read them again and re-apply your change.");

export type RuleViolation =
  | { kind: "mutuallyExclusive"; servicePlanIds: [string, string]; advice?: string }
  | { kind: "prerequisite"; servicePlanId: string; requiresAnyOf: string[]; advice?: string };

/**
 * The first rule a change breaks: a mutually exclusive pair where both plans end up on and one of
 * them is switched on by this change; or a plan that ends up on without any of its prerequisites,
 * where the change switches it on or takes its prerequisite away. Plans already in conflict and
 * left alone are not this change's fault (Graph does not refuse them either).
 */
export function firstViolation(rules: LicenseRules, before: ReadonlySet<string>, after: ReadonlySet<string>): RuleViolation | undefined {
  for (const rule of rules.mutuallyExclusive) {
    const [a, b] = rule.servicePlanIds as [string, string];
    if (after.has(a) && after.has(b) && (!before.has(a) || !before.has(b))) {
      return { kind: "mutuallyExclusive", servicePlanIds: [a, b], ...(rule.advice ? { advice: rule.advice } : {}) };
    }
  }
  for (const rule of rules.prerequisites) {
    if (!after.has(rule.servicePlanId) || rule.requiresAnyOf.some((p) => after.has(p))) continue;
    const wasSatisfied = !before.has(rule.servicePlanId) || rule.requiresAnyOf.some((p) => before.has(p));
    if (wasSatisfied) {
      return { kind: "prerequisite", servicePlanId: rule.servicePlanId, requiresAnyOf: rule.requiresAnyOf, ...(rule.advice ? { advice: rule.advice } : {}) };
    }
  }
  return undefined;
}
