import type { z } from "zod";
import type { Principal } from "../auth/token-validator.js";
import { DataverseClient } from "../clients/dataverse.js";
import { AppError, notFound } from "../errors/app-error.js";
import type { SyncDeps } from "../sync/deps.js";
import type { PlatformEnvironment, SystemUserRow } from "../sync/model.js";
import { actorOf, requireDataverse, requireEnvironment } from "./environments.js";
import type { applicationUserSchema } from "./schemas.js";

/**
 * D7: application users (a systemuser with an application id). Created and enabled/disabled by
 * admins only - the directory sync never touches them - with no limit on their number.
 */
type ApplicationUserView = z.infer<typeof applicationUserSchema>;

export const DISABLE_WARNING = "Disabling an application user breaks every integration that signs in as this application until it is enabled again.";

function view(row: SystemUserRow, warning: string | null): ApplicationUserView {
  return { applicationId: row.applicationid?.toLowerCase() ?? "", systemUserId: row.systemuserid, status: row.isdisabled ? "disabled" : "enabled", warning };
}

async function findByApplicationId(dataverse: DataverseClient, applicationId: string): Promise<SystemUserRow | null> {
  const page = await dataverse.listSystemUsers({ pageSize: 2, filter: `applicationid eq ${applicationId}` });
  return page.rows[0] ?? null;
}

export async function createApplicationUser(
  deps: SyncDeps, tenantId: string, environmentId: string, body: { applicationId: string; securityRoleIds?: string[] | undefined }, principal: Principal,
): Promise<ApplicationUserView> {
  const env = await requireEnvironment(deps, tenantId, environmentId);
  requireDataverse(env);
  const dataverse = deps.dataverse(tenantId, env, "interactive");
  const exists = () => new AppError("conflict", `Environment ${env.id} already has an application user for ${body.applicationId}.`, { code: "application-user-exists" });
  // The check and the create are two requests: concurrent creates of one app would each find none.
  const release = await deps.store.guardApplicationUserCreation(tenantId, env.id, body.applicationId);
  if (!release) {
    throw new AppError("conflict", `An application user for ${body.applicationId} is being created in environment ${env.id} by another request; read the environment's users again.`, {
      code: "application-user-exists",
    });
  }
  try {
    return await createGuarded(deps, tenantId, env, dataverse, body, principal, exists);
  } finally {
    await release();
  }
}

async function createGuarded(
  deps: SyncDeps, tenantId: string, env: PlatformEnvironment, dataverse: DataverseClient, body: { applicationId: string; securityRoleIds?: string[] | undefined },
  principal: Principal, exists: () => AppError,
): Promise<ApplicationUserView> {
  if (await findByApplicationId(dataverse, body.applicationId)) throw exists();
  const roleIds = body.securityRoleIds ?? (await deps.settings.get(tenantId, env.id)).value.defaultSecurityRoleIds;
  if (roleIds.length) {
    const known = new Set((await dataverse.listRoles()).map((r) => r.roleid));
    const unknown = roleIds.filter((r) => !known.has(r));
    if (unknown.length) throw new AppError("businessRule", `Unknown security roles: ${unknown.join(", ")}.`, { code: "unknown-security-role", extensions: { roleIds: unknown } });
  }
  const businessUnitId = await dataverse.rootBusinessUnitId();
  const row = await createOrRefused(dataverse, env, body.applicationId, businessUnitId, exists);
  if (roleIds.length) await dataverse.batch(roleIds.map((r) => DataverseClient.associateRole(dataverse.apiBase, row.systemuserid, r)));
  await deps.audit.append(tenantId, {
    actor: actorOf(principal), action: "environment.applicationUser.create", target: { type: "application", id: body.applicationId }, phase: "record",
    outcome: "succeeded", context: { environmentId: env.id, systemUserId: row.systemuserid, roleIds },
  });
  return view(row, null);
}

/**
 * The platform looks the application up in Entra ID and fills in its service principal; it refuses
 * an application the tenant does not have (no enterprise application) - the admin's to fix: 422.
 */
export async function createOrRefused(
  dataverse: DataverseClient, env: PlatformEnvironment, applicationId: string, businessUnitId: string, exists: () => AppError,
): Promise<SystemUserRow> {
  try {
    return await dataverse.createSystemUser({ applicationid: applicationId, "businessunitid@odata.bind": `/businessunits(${businessUnitId})` });
  } catch (err) {
    const status = err instanceof AppError ? err.extensions.upstreamStatus : undefined;
    if (!(err instanceof AppError) || typeof status !== "number") throw err;
    // Created meanwhile elsewhere (the admin center): the record exists - 409 as for ours.
    if (status === 409 || status === 412 || /duplicate|already exists|matching key/i.test(err.message)) throw exists();
    // Only a 400 is the platform refusing the request itself; 401/403 (this product's own access to
    // the environment) and the rest stay Microsoft's failure (502).
    if (status !== 400) throw err;
    throw new AppError("businessRule", `The platform refused to create an application user for ${applicationId}: ${err.message}`, {
      code: "platform-refused",
      extensions: {
        applicationId, environmentId: env.id, platform: { status, code: typeof err.extensions.upstreamCode === "string" ? err.extensions.upstreamCode : "", message: err.message },
        lever: `Register the application in Microsoft Entra ID so that this tenant has its enterprise application (service principal), then create the application user again.`,
      },
    });
  }
}

/** Where an application user is read (the `Location` of its creation). */
export const applicationUserLocation = (tenantId: string, environmentId: string, applicationId: string) =>
  `/api/tenants/${tenantId}/environments/${environmentId}/application-users/${applicationId.toLowerCase()}`;

/** D7: one application user of the environment, with the warning its state calls for (a disabled one breaks its integrations). */
export async function getApplicationUser(deps: SyncDeps, tenantId: string, environmentId: string, applicationId: string): Promise<ApplicationUserView> {
  const env = await requireEnvironment(deps, tenantId, environmentId);
  requireDataverse(env);
  const row = await findByApplicationId(deps.dataverse(tenantId, env, "interactive"), applicationId);
  if (!row) throw notFound(`Application user ${applicationId} in environment ${env.id}`);
  return view(row, row.isdisabled ? DISABLE_WARNING : null);
}

export async function setApplicationUserEnabled(
  deps: SyncDeps, tenantId: string, environmentId: string, applicationId: string, enabled: boolean, principal: Principal,
): Promise<ApplicationUserView> {
  const env = await requireEnvironment(deps, tenantId, environmentId);
  requireDataverse(env);
  const dataverse = deps.dataverse(tenantId, env, "interactive");
  const row = await findByApplicationId(dataverse, applicationId);
  if (!row) throw notFound(`Application user ${applicationId} in environment ${env.id}`);
  const warning = enabled ? null : DISABLE_WARNING;
  if (row.isdisabled !== !enabled) {
    await dataverse.patchSystemUser(row.systemuserid, { isdisabled: !enabled });
    await deps.audit.append(tenantId, {
      actor: actorOf(principal), action: enabled ? "environment.applicationUser.enable" : "environment.applicationUser.disable",
      target: { type: "application", id: applicationId }, phase: "record", outcome: "succeeded", context: { environmentId: env.id, systemUserId: row.systemuserid },
    });
  }
  return view({ ...row, isdisabled: !enabled }, warning);
}
