import { z } from "zod";
import { ACCESS } from "../auth/roles.js";
import { defineEndpoint } from "../http/endpoint.js";
import { tenantRouteParamsSchema } from "../tenants/tenant.js";
import { SETTINGS_KINDS } from "./tenant-settings.js";

const versioned = <T extends z.ZodObject>(value: T) =>
  value.extend({
    updatedAt: z.iso.datetime().nullable(),
    updatedBy: z.string().nullable().describe("Object id of the admin who changed it last"),
  });

const etagHeader = { ETag: "Version to send in If-Match" };

export const autoClaimSettingsGet = defineEndpoint({
  name: "settings-auto-claim-get",
  method: "GET",
  route: "tenants/{tenantId}/settings/auto-claim",
  summary: "A1: the auto-claim feature switch (off by default); A13: the tenant's reclamation days (reclaimAfterDays; null: the deployment's default).",
  tag: "Settings",
  access: ACCESS.read,
  params: tenantRouteParamsSchema,
  responses: { 200: { description: "The switch", schema: versioned(SETTINGS_KINDS["auto-claim"]), headers: etagHeader } },
});

export const autoClaimSettingsPut = defineEndpoint({
  name: "settings-auto-claim-put",
  ifMatch: true,
  method: "PUT",
  route: "tenants/{tenantId}/settings/auto-claim",
  summary:
    "A1: switch auto-claim on or off (Global Administrator; If-Match required). Switching off keeps existing claims. A13: reclaimAfterDays returns a " +
    "claimed license unused that many days to the pool (0 off; null or left out: the deployment's AUTOCLAIM_RECLAIM_AFTER_DAYS). A PUT replaces both.",
  tag: "Settings",
  access: ACCESS.tenantAdminWrite,
  params: tenantRouteParamsSchema,
  body: SETTINGS_KINDS["auto-claim"].strict(),
  responses: { 200: { description: "Updated", schema: versioned(SETTINGS_KINDS["auto-claim"]), headers: etagHeader } },
});

export const automationSettingsGet = defineEndpoint({
  name: "settings-automation-get",
  method: "GET",
  route: "tenants/{tenantId}/settings/automation",
  summary: "P11: whether automatic changes (claims, sync writes, trial expiry) are paused.",
  tag: "Settings",
  access: ACCESS.read,
  params: tenantRouteParamsSchema,
  responses: { 200: { description: "The pause switch", schema: versioned(SETTINGS_KINDS.automation), headers: etagHeader } },
});

export const automationSettingsPut = defineEndpoint({
  name: "settings-automation-put",
  ifMatch: true,
  method: "PUT",
  route: "tenants/{tenantId}/settings/automation",
  summary: "P11: pause or resume every automatic change (Global Administrator; If-Match required). Paused work waits, it is not lost.",
  tag: "Settings",
  access: ACCESS.tenantAdminWrite,
  params: tenantRouteParamsSchema,
  body: SETTINGS_KINDS.automation.strict(),
  responses: { 200: { description: "Updated", schema: versioned(SETTINGS_KINDS.automation), headers: etagHeader } },
});
