import { isDeepStrictEqual } from "node:util";
import type { z } from "zod";
import type { AuditEntry } from "../audit/audit-log.js";
import type { Principal } from "../auth/token-validator.js";
import { AppError, notFound } from "../errors/app-error.js";
import { decodeCursor, encodeCursor } from "../http/conventions.js";
import type { SyncDeps } from "../sync/deps.js";
import type { EnvState } from "../sync/documents.js";
import type { PlatformEnvironment } from "../sync/model.js";
import type { environmentPatchSchema, environmentSchema } from "./schemas.js";
import type { EnvironmentSettings, VersionedEnvironmentSettings } from "./settings.js";

/** D15: environments come from the Power Platform admin API; admins set only this product's settings. */
export type EnvironmentView = z.infer<typeof environmentSchema>;

export async function requireEnvironment(deps: SyncDeps, tenantId: string, environmentId: string): Promise<PlatformEnvironment> {
  const env = await deps.platform(tenantId, "interactive").getEnvironment(environmentId);
  if (!env) throw notFound(`Environment ${environmentId}`);
  return env;
}

export function requireDataverse(env: PlatformEnvironment): NonNullable<PlatformEnvironment["dataverse"]> {
  if (!env.dataverse) {
    throw new AppError("businessRule", `Environment ${env.id} has no Dataverse database: it has no users (D5).`, { code: "environment-without-dataverse" });
  }
  return env.dataverse;
}

export function actorOf(principal: Principal): AuditEntry["actor"] {
  return { type: principal.isApplication ? "application" : "user", id: principal.objectId, ...(principal.name ? { name: principal.name } : {}) };
}

export function environmentView(
  env: PlatformEnvironment,
  settings: VersionedEnvironmentSettings,
  state: EnvState | undefined,
  lastDirectoryReadAt: string | null,
  defaultThreshold: number,
): EnvironmentView {
  return {
    id: env.id,
    displayName: env.displayName,
    type: env.type,
    region: env.region,
    hasDataverse: env.dataverse !== null,
    dataverseUrl: env.dataverse?.instanceUrl ?? null,
    securityGroupId: env.dataverse?.securityGroupId ?? null,
    createdBy: env.createdBy,
    expirationTime: env.expirationTime,
    settings: {
      syncEnabled: settings.value.syncEnabled,
      massDisableThresholdPercent: settings.value.massDisableThresholdPercent ?? defaultThreshold,
      massDisableThresholdIsDefault: settings.value.massDisableThresholdPercent === null,
      defaultSecurityRoleIds: settings.value.defaultSecurityRoleIds,
    },
    sync: {
      activeRunId: state?.activeRunId ?? null,
      lastRun: state?.lastRun ?? null,
      lastFullReconcileAt: state?.lastFullAt ?? null,
      lastDirectoryReadAt,
    },
  };
}

export async function listEnvironments(deps: SyncDeps, tenantId: string, query: { limit: number; cursor?: string | undefined }): Promise<{ items: EnvironmentView[]; nextCursor: string | null }> {
  const offset = Number(decodeCursor(query.cursor, tenantId, "environments") ?? "0");
  const [environments, settings, directory] = await Promise.all([
    deps.platform(tenantId, "interactive").listEnvironments(),
    deps.settings.all(tenantId),
    deps.store.loadDirectory(tenantId),
  ]);
  environments.sort((a, b) => a.displayName.localeCompare(b.displayName) || a.id.localeCompare(b.id));
  const page = environments.slice(offset, offset + query.limit);
  const defaults = { value: { syncEnabled: false, massDisableThresholdPercent: null, defaultSecurityRoleIds: [] }, etag: "", updatedAt: null, updatedBy: null };
  return {
    items: page.map((e) =>
      environmentView(e, settings.get(e.id) ?? defaults, directory.environments.get(e.id)?.doc, directory.state?.doc.lastCycleAt ?? null, deps.config.SYNC_MASS_DISABLE_PERCENT),
    ),
    nextCursor: offset + query.limit < environments.length ? encodeCursor(tenantId, "environments", String(offset + query.limit)) : null,
  };
}

export async function getEnvironment(deps: SyncDeps, tenantId: string, environmentId: string): Promise<{ view: EnvironmentView; etag: string }> {
  const env = await requireEnvironment(deps, tenantId, environmentId);
  const [settings, state, directory] = await Promise.all([
    deps.settings.get(tenantId, env.id),
    deps.store.readEnvState(tenantId, env.id),
    deps.store.readDirectoryState(tenantId),
  ]);
  return { view: environmentView(env, settings, state?.doc, directory?.doc.lastCycleAt ?? null, deps.config.SYNC_MASS_DISABLE_PERCENT), etag: settings.etag };
}

/** A JSON merge patch of this product's settings, with If-Match; default roles must exist in the environment (D14). */
export async function patchEnvironment(
  deps: SyncDeps, tenantId: string, environmentId: string, patch: z.infer<typeof environmentPatchSchema>, ifMatch: string, principal: Principal,
): Promise<{ view: EnvironmentView; etag: string }> {
  const env = await requireEnvironment(deps, tenantId, environmentId);
  // The patch is merged into the settings as read at the write (under If-Match: *, read again after a lost race).
  const merge = async (currentValue: EnvironmentSettings): Promise<EnvironmentSettings> => {
    const next = { ...currentValue };
    if (patch.syncEnabled !== undefined) next.syncEnabled = patch.syncEnabled;
    if (patch.massDisableThresholdPercent !== undefined) next.massDisableThresholdPercent = patch.massDisableThresholdPercent;
    if (patch.defaultSecurityRoleIds !== undefined) next.defaultSecurityRoleIds = [...new Set(patch.defaultSecurityRoleIds)];
    // Nothing changed: nothing written or audited, and the ETag stays (another admin's read is still current).
    if (isDeepStrictEqual(next, currentValue)) return currentValue;
    if (next.syncEnabled || next.defaultSecurityRoleIds.length) requireDataverse(env);
    if (patch.defaultSecurityRoleIds?.length) {
      const roles = new Set((await deps.dataverse(tenantId, env, "interactive").listRoles()).map((r) => r.roleid));
      const unknown = next.defaultSecurityRoleIds.filter((r) => !roles.has(r));
      if (unknown.length) {
        throw new AppError("businessRule", `These security roles do not exist in environment ${env.id}: ${unknown.join(", ")}.`, {
          code: "unknown-security-role",
          extensions: { roleIds: unknown },
        });
      }
    }
    return next;
  };
  const { before: current, after: stored, changed } = await deps.settings.update(tenantId, env.id, merge, ifMatch, principal.objectId);
  if (changed) {
    await deps.audit.append(tenantId, {
      actor: actorOf(principal),
      action: "environment.settings.update",
      target: { type: "environment", id: env.id },
      phase: "record",
      before: current.value,
      after: stored.value,
      outcome: "succeeded",
    });
  }
  const [state, directory] = await Promise.all([deps.store.readEnvState(tenantId, env.id), deps.store.readDirectoryState(tenantId)]);
  return { view: environmentView(env, stored, state?.doc, directory?.doc.lastCycleAt ?? null, deps.config.SYNC_MASS_DISABLE_PERCENT), etag: stored.etag };
}
