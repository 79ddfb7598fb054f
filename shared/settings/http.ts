import type { HttpResponseInit } from "@azure/functions";
import type { Principal } from "../auth/token-validator.js";
import { requireIfMatch } from "../http/conventions.js";
import type { Runtime } from "../runtime.js";
import type { SettingsKind, SettingsValue, VersionedSettings } from "./tenant-settings.js";

/** How a kind's value is shown (e.g. with a secret-bearing URL redacted); the value itself by default. */
export type SettingsView<K extends SettingsKind> = (value: SettingsValue<K>) => object;

function toResponse<K extends SettingsKind>(s: VersionedSettings<K>, view: SettingsView<K> = (v) => v): HttpResponseInit {
  return { status: 200, headers: { ETag: s.etag }, jsonBody: { ...view(s.value), updatedAt: s.updatedAt, updatedBy: s.updatedBy } };
}

export async function readSettings<K extends SettingsKind>(rt: Runtime, tenantId: string, kind: K, view?: SettingsView<K>): Promise<HttpResponseInit> {
  return toResponse(await rt.settings.get(tenantId, kind), view);
}

export interface WriteSettingsOptions<K extends SettingsKind> {
  /** How the answer shows the value (default: as stored). */
  view?: SettingsView<K>;
  /** How the audit trail records before and after (default: as stored); the trail is readable by every reader. */
  auditView?: SettingsView<K>;
  /** Right after the change is saved, before it is audited (e.g. P11's resume announcement). */
  afterChange?: (before: SettingsValue<K>, after: SettingsValue<K>) => Promise<unknown>;
}

/** PUT with If-Match; the change is audited with its before and after. */
export async function writeSettings<K extends SettingsKind>(
  rt: Runtime, tenantId: string, kind: K, value: SettingsValue<K>, headers: { get(name: string): string | null }, by: Principal,
  options: WriteSettingsOptions<K> = {},
): Promise<HttpResponseInit> {
  const ifMatch = requireIfMatch(headers);
  const auditView: SettingsView<K> = options.auditView ?? ((v) => v);
  // `before` is what the write replaced (under If-Match: *, possibly another request's change made meanwhile).
  const { before, ...after } = await rt.settings.put(tenantId, kind, value, ifMatch, by.objectId);
  // What follows from the saved change first: an audit write that fails must not leave it undone.
  await options.afterChange?.(before, after.value);
  await rt.audit.append(tenantId, {
    actor: { type: "user", id: by.objectId },
    action: `settings.${kind}.update`,
    target: { type: "settings", id: kind },
    phase: "record",
    before: auditView(before),
    after: auditView(after.value),
    outcome: "succeeded",
  });
  return toResponse(after, options.view);
}
