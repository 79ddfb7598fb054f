import type { HttpResponseInit } from "@azure/functions";
import type { Principal } from "../auth/token-validator.js";
import { requireIfMatch } from "../http/conventions.js";
import type { Runtime } from "../runtime.js";
import type { SettingsKind, SettingsValue, VersionedSettings } from "./tenant-settings.js";

function toResponse<K extends SettingsKind>(s: VersionedSettings<K>): HttpResponseInit {
  return { status: 200, headers: { ETag: s.etag }, jsonBody: { ...s.value, updatedAt: s.updatedAt, updatedBy: s.updatedBy } };
}

export async function readSettings<K extends SettingsKind>(rt: Runtime, tenantId: string, kind: K): Promise<HttpResponseInit> {
  return toResponse(await rt.settings.get(tenantId, kind));
}

/** PUT with If-Match; the change is audited with its before and after. */
export async function writeSettings<K extends SettingsKind>(
  rt: Runtime, tenantId: string, kind: K, value: SettingsValue<K>, headers: { get(name: string): string | null }, by: Principal,
): Promise<HttpResponseInit> {
  const ifMatch = requireIfMatch(headers);
  const before = await rt.settings.get(tenantId, kind);
  const after = await rt.settings.put(tenantId, kind, value, ifMatch, by.objectId);
  await rt.audit.append(tenantId, {
    actor: { type: "user", id: by.objectId },
    action: `settings.${kind}.update`,
    target: { type: "settings", id: kind },
    phase: "record",
    before: before.value,
    after: after.value,
    outcome: "succeeded",
  });
  return toResponse(after);
}
