import type { HttpResponseInit } from "@azure/functions";
import { z } from "zod";
import type { Principal } from "../auth/token-validator.js";
import { AppError } from "../errors/app-error.js";
import { cursorPosition, decodeCursor, encodeCursor, type ListQuery } from "../http/conventions.js";
import type { Runtime } from "../runtime.js";
import { readSettings, writeSettings } from "../settings/http.js";
import type { AlertListFilter } from "./alerts.js";
import { alertsFor } from "./composition.js";
import type { AlertSettings, alertSettingsBodySchema } from "./settings.js";
import { checkWebhookUrl, redactWebhookUrl } from "./webhook-url.js";

/** The HTTP side of the alert endpoints; functions/*.ts only wire these to their triggers. */
interface Headers {
  get(name: string): string | null;
}

/** A webhook URL often carries the receiver's secret: only a Global Administrator sees it whole. */
function settingsView(principal: Principal) {
  const full = principal.directoryRoles.includes("Global Administrator");
  return (s: AlertSettings) => ({
    enabled: s.enabled,
    webhookUrl: full ? s.webhookUrl : redactWebhookUrl(s.webhookUrl),
    webhookUrlRedacted: !full && s.webhookUrl !== null,
    lowStock: s.lowStock,
  });
}

const auditView = (s: AlertSettings) => ({ ...s, webhookUrl: redactWebhookUrl(s.webhookUrl) });

export async function getAlertSettings(rt: Runtime, tenantId: string, principal: Principal): Promise<HttpResponseInit> {
  return readSettings(rt, tenantId, "alerts", settingsView(principal));
}

export async function putAlertSettings(
  rt: Runtime, tenantId: string, body: z.output<typeof alertSettingsBodySchema>, headers: Headers, principal: Principal,
): Promise<HttpResponseInit> {
  if (body.webhookUrl !== null) {
    const refused = checkWebhookUrl(body.webhookUrl, rt.config.APP_ENV);
    if (refused) {
      throw new AppError("validation", `The webhook URL ${refused}.`, { errors: [{ path: "body.webhookUrl", message: refused }] });
    }
  }
  const value: AlertSettings = { enabled: body.enabled, webhookUrl: body.webhookUrl, lowStock: body.lowStock };
  return writeSettings(rt, tenantId, "alerts", value, headers, principal, { view: settingsView(principal), auditView });
}

export async function listAlerts(rt: Runtime, tenantId: string, query: ListQuery & AlertListFilter): Promise<HttpResponseInit> {
  const filter: AlertListFilter = {
    ...(query.type ? { type: query.type } : {}), ...(query.status ? { status: query.status } : {}), ...(query.state ? { state: query.state } : {}),
  };
  // The position holds the time the list's states are judged at: its later pages judge alike (an alert
  // whose window ends meanwhile neither leaves a state=open list nor shows twice).
  const raw = decodeCursor(query.cursor, tenantId, { alerts: filter });
  const position = raw === undefined ? undefined : cursorPosition(raw, z.object({ asOf: z.iso.datetime(), token: z.string() }));
  const alerts = alertsFor(rt);
  const asOf = position ? new Date(position.asOf) : alerts.now();
  const page = await alerts.page(tenantId, filter, query.limit, position?.token, asOf);
  const next = page.continuationToken ? JSON.stringify({ asOf: asOf.toISOString(), token: page.continuationToken }) : null;
  return { status: 200, jsonBody: { items: page.items, nextCursor: next ? encodeCursor(tenantId, { alerts: filter }, next) : null } };
}

