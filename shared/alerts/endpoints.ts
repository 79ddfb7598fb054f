import { z } from "zod";
import { ACCESS } from "../auth/roles.js";
import { defineEndpoint } from "../http/endpoint.js";
import { listQuerySchema, listResponseSchema } from "../http/conventions.js";
import { tenantRouteParamsSchema } from "../tenants/tenant.js";
import { alertTypeSchema, alertViewSchema, deliveryStatusSchema } from "./model.js";
import { alertSettingsBodySchema, lowStockThresholdSchema } from "./settings.js";

/** The HTTP contracts of L18 alerts; roles per P4 (shared/auth/roles.ts). */
const TAG = "Alerts";

export const alertSettingsViewSchema = z.object({
  enabled: z.boolean(),
  webhookUrl: z.string().nullable().describe("In full for a Global Administrator; other readers see only its scheme and host"),
  webhookUrlRedacted: z.boolean(),
  lowStock: lowStockThresholdSchema,
  updatedAt: z.iso.datetime().nullable(),
  updatedBy: z.string().nullable().describe("Object id of the admin who changed it last"),
});

const etagHeader = { ETag: "Version to send in If-Match" };

export const alertSettingsGet = defineEndpoint({
  name: "settings-alerts-get",
  method: "GET",
  route: "tenants/{tenantId}/settings/alerts",
  summary: "L18: the alert webhook, the low-stock threshold (a share and/or a count of available licenses) and whether alerts are on (off by default).",
  tag: TAG,
  access: ACCESS.read,
  params: tenantRouteParamsSchema,
  responses: { 200: { description: "The alert settings", schema: alertSettingsViewSchema, headers: etagHeader } },
});

export const alertSettingsPut = defineEndpoint({
  name: "settings-alerts-put",
  ifMatch: true,
  method: "PUT",
  route: "tenants/{tenantId}/settings/alerts",
  summary:
    "L18: set the alert webhook and low-stock threshold (Global Administrator; If-Match required). The webhook must be https " +
    "(a plain-http loopback receiver only with APP_ENV=local) and, in Azure, a public address.",
  tag: TAG,
  access: ACCESS.tenantAdminWrite,
  params: tenantRouteParamsSchema,
  body: alertSettingsBodySchema,
  responses: { 200: { description: "Updated", schema: alertSettingsViewSchema, headers: etagHeader } },
});

export const alertsList = defineEndpoint({
  name: "alerts-list",
  method: "GET",
  route: "tenants/{tenantId}/alerts",
  summary: "L18: the recorded alerts (low stock, licensing failures), newest first, with their webhook delivery status.",
  tag: TAG,
  access: ACCESS.read,
  params: tenantRouteParamsSchema,
  query: listQuerySchema.extend({
    type: alertTypeSchema.optional(),
    status: deliveryStatusSchema.optional().describe("The webhook delivery status"),
    state: z.enum(["open", "resolved"]).optional().describe("Whether the alert's condition still holds (as the items' `state`)"),
  }),
  responses: { 200: { description: "Alerts", schema: listResponseSchema(alertViewSchema) } },
});

export const ALERT_ENDPOINTS = [alertSettingsGet, alertSettingsPut, alertsList] as const;
