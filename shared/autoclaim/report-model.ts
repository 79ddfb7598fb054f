import { z } from "zod";
import { eventSourceSchema, eventStatusSchema } from "../events/sign-in-event.js";
import { triggerSchema } from "./triggers.js";

export const REPORT_PERIODS = ["1", "7", "30", "90"] as const;

export const reportQuerySchema = z.object({
  days: z.enum(REPORT_PERIODS).default("90").transform(Number).describe("The period: the last 1, 7, 30 or 90 days (default 90)"),
});

/** At most this many users per product and events per list; the counts are always complete. */
export const REPORT_MAX_ROWS = 500;

const claimedUserSchema = z.object({
  userId: z.string(),
  claimedAt: z.string(),
  eventId: z.string(),
  trigger: triggerSchema,
  source: eventSourceSchema,
  caller: z.string().describe("Who delivered the event: a relay's app id, `entra` (E1) or `sign-in-log` (E2)"),
  state: z.enum(["claimed", "reclaimed"]),
});

const eventRowSchema = z.object({
  eventId: z.string(),
  userId: z.string(),
  appId: z.string(),
  trigger: triggerSchema,
  source: eventSourceSchema,
  status: eventStatusSchema,
  code: z.string().nullable(),
  reason: z.string().nullable(),
  at: z.string(),
});

const reasonCountSchema = z.object({ code: z.string(), count: z.number().int() });

const eventListSchema = z.object({
  count: z.number().int(),
  byReason: z.array(reasonCountSchema),
  events: z.array(eventRowSchema),
  truncated: z.boolean(),
});

export const reportSchema = z.object({
  days: z.number().int(),
  from: z.string(),
  to: z.string(),
  policies: z.array(
    z.object({
      policyId: z.string(),
      name: z.string(),
      appId: z.string(),
      deleted: z.boolean(),
      count: z.number().int(),
      products: z.array(
        z.object({
          skuId: z.string(),
          skuPartNumber: z.string().nullable(),
          count: z.number().int(),
          users: z.array(claimedUserSchema),
          usersTruncated: z.boolean(),
        }),
      ),
    }),
  ),
  failed: eventListSchema.describe("A11: events that could not be served (no license anywhere, Graph errors after retries, ...)"),
  skipped: eventListSchema.describe("Events that claimed nothing on purpose (guest, disabled account, already licensed, feature off, ...)"),
  trackingPlansFailed: eventListSchema.describe(
    "L12/A11: sign-ins whose free tracking plan (Power Automate Free, Fabric Free) could not be assigned - code and reason are the plan's, whatever the event's own status",
  ),
  reclaimed: z.array(z.object({ userId: z.string(), policyId: z.string(), skuId: z.string(), reclaimedAt: z.string(), reason: z.string() })),
  unprocessableMessages: z
    .object({
      count: z.number().int(),
      items: z.array(z.object({ id: z.string(), kind: z.string().describe("The message's kind (sign-in-event, sync-job, ...; unknown: too broken to tell)"), reason: z.string(), failedAt: z.string() })),
      truncated: z.boolean(),
    })
    .describe("A11: the tenant's queue messages kept because they could not be read or processed at all (malformed, unknown kind, given up), whatever their kind"),
});
export type Report = z.infer<typeof reportSchema>;
