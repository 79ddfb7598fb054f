import { z } from "zod";

/**
 * L18 alerts as recorded in Cosmos (container `alerts`, partition key /tenantId) and as sent to the
 * tenant's webhook. The webhook body is `alertPayloadSchema`; its `id` is stable across retries
 * (also sent as `Idempotency-Key`), so a receiver can drop a repeated delivery.
 */
export const alertTypeSchema = z.enum(["low-stock", "licensing-failure"]);
export type AlertType = z.infer<typeof alertTypeSchema>;

export const deliveryStatusSchema = z.enum(["pending", "delivered", "failed", "skipped"]);
export type DeliveryStatus = z.infer<typeof deliveryStatusSchema>;

export const alertProductSchema = z.object({ skuId: z.string(), skuPartNumber: z.string().nullable(), displayName: z.string().nullable() });

export const stockFiguresSchema = z.object({
  total: z.number().int(),
  assigned: z.number().int(),
  available: z.number().int(),
  availablePercent: z.number(),
  threshold: z.object({ percent: z.number().optional(), count: z.number().int().optional() }),
});

/** Where a licensing failure came from: license administration, the trial expiry, auto-claim, group licensing, ... */
export const failureSchema = z.object({
  source: z.string(),
  code: z.string(),
  message: z.string(),
  /** Up to 20 of the users concerned. */
  userIds: z.array(z.string()),
  /** How often it happened in the alert's window (only the first occurrence is sent). */
  occurrences: z.number().int(),
  lastOccurredAt: z.string(),
  groupId: z.string().nullable(),
});

export const alertPayloadSchema = z.object({
  id: z.string().describe("Stable across deliveries: use it to drop duplicates"),
  type: alertTypeSchema,
  tenantId: z.string(),
  occurredAt: z.string(),
  product: alertProductSchema.nullable(),
  /** low-stock: the product's counts when it crossed the threshold. */
  figures: stockFiguresSchema.nullable(),
  /** licensing-failure: what failed. */
  failure: failureSchema.nullable(),
});
export type AlertPayload = z.infer<typeof alertPayloadSchema>;

export const deliverySchema = z.object({
  status: deliveryStatusSchema,
  attempts: z.number().int(),
  lastAttemptAt: z.string().nullable(),
  deliveredAt: z.string().nullable(),
  lastError: z.string().nullable(),
});
export type Delivery = z.infer<typeof deliverySchema>;

/** What GET /alerts lists: the payload, whether the condition still holds, and its delivery. */
export const alertViewSchema = alertPayloadSchema.extend({
  /** low-stock: "open" until the product recovers; failures are "open" for their window. */
  state: z.enum(["open", "resolved"]),
  resolvedAt: z.string().nullable(),
  delivery: deliverySchema,
});
export type AlertView = z.infer<typeof alertViewSchema>;

export interface AlertDocument extends AlertView {
  tenantId: string;
  docType: "alert";
}

/**
 * The dedupe lock of an alert: one per open low-stock condition (`low-stock|<skuId>`, until the
 * product recovers) and one per failure key and time window. It is created before the alert, with
 * the alert in it, so a writer that crashed in between leaves enough to finish the job.
 */
export interface AlertLockDocument {
  id: string;
  tenantId: string;
  docType: "alert-lock";
  alertType: AlertType;
  alertId: string;
  skuId: string | null;
  alert: AlertDocument;
  /** Seconds; -1 keeps a low-stock lock until the product recovers. */
  ttl: number;
}
