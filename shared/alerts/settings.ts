import { z } from "zod";

/**
 * L18: a tenant's alert settings (settings kind "alerts", ETag-versioned like the other settings).
 * `lowStock` is the threshold of a product running low: below `percent` % of its total, or below
 * `count` available licenses (either one; none set: no low-stock alerts). Licensing failures raise
 * an alert whenever alerts are enabled.
 */
export const lowStockThresholdSchema = z.object({
  percent: z.number().gt(0).lt(100).optional().describe("Low when available licenses are below this share (%) of the total"),
  count: z.number().int().min(1).max(1_000_000).optional().describe("Low when fewer than this many licenses are available"),
});
export type LowStockThreshold = z.infer<typeof lowStockThresholdSchema>;

/** As stored (and answered). */
export const alertSettingsSchema = z.object({
  enabled: z.boolean(),
  webhookUrl: z.string().nullable(),
  lowStock: lowStockThresholdSchema,
});
export type AlertSettings = z.infer<typeof alertSettingsSchema>;

export const ALERT_SETTINGS_DEFAULTS: AlertSettings = { enabled: false, webhookUrl: null, lowStock: {} };

export const MAX_WEBHOOK_URL_LENGTH = 2048;

/**
 * What an admin sends (PUT). The rules that depend on where the app runs (https, loopback,
 * private addresses) are checked by `checkWebhookUrl` and reported on the same field.
 */
export const alertSettingsBodySchema = z
  .object({
    enabled: z.boolean(),
    webhookUrl: z
      .string()
      .max(MAX_WEBHOOK_URL_LENGTH, { message: `must be at most ${MAX_WEBHOOK_URL_LENGTH} characters` })
      .pipe(z.url({ message: "must be an absolute URL" }))
      .nullable()
      .default(null),
    lowStock: lowStockThresholdSchema.strict().default({}),
  })
  .strict()
  .refine((s) => !s.enabled || s.webhookUrl !== null, { path: ["webhookUrl"], message: "is required while alerts are enabled" });
