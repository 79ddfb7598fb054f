
import { ACCESS } from "../auth/roles.js";
import { acceptedSchemaOf, listQuerySchema, listResponseSchema } from "../http/conventions.js";
import { defineEndpoint } from "../http/endpoint.js";
import { tenantRouteParamsSchema } from "../tenants/tenant.js";
import {
  accessModePatchSchema, addEnvironmentUserSchema, applicationUserCreateSchema, applicationUserParamsSchema, applicationUserPatchSchema,
  applicationUserSchema, diagnosticsSchema, environmentParamsSchema, environmentPatchSchema, environmentSchema, environmentUserParamsSchema,
  environmentUserSchema, environmentUsersQuery, oneUserResultSchema, runActionSchema, runActionsQuery, runStateApiSchema, syncRunParamsSchema, syncRunSchema,
} from "./schemas.js";

/** The environment and sync endpoints (D4-D15), under /api/tenants/{tenantId}/environments. */
const TAG = "Environments";
const base = "tenants/{tenantId}/environments";
const etag = { ETag: "Version of this product's settings; send it in If-Match to change them" };
const location = { Location: "Where to poll the run" };

export const environmentsList = defineEndpoint({
  name: "environments-list",
  method: "GET",
  route: base,
  summary: "D15: the tenant's environments as the Power Platform admin API reports them (type, Dataverse URL, security group), with this product's settings.",
  tag: TAG,
  access: ACCESS.read,
  upstream: true,
  params: tenantRouteParamsSchema,
  query: listQuerySchema,
  responses: { 200: { description: "Environments", schema: listResponseSchema(environmentSchema) } },
});

export const environmentsGet = defineEndpoint({
  name: "environments-get",
  method: "GET",
  route: `${base}/{environmentId}`,
  summary: "D15: one environment, with this product's settings and its sync status.",
  tag: TAG,
  access: ACCESS.read,
  upstream: true,
  params: environmentParamsSchema,
  responses: { 200: { description: "The environment", schema: environmentSchema, headers: etag } },
});

export const environmentsPatch = defineEndpoint({
  name: "environments-patch",
  ifMatch: true,
  method: "PATCH",
  route: `${base}/{environmentId}`,
  summary: "D13-D15: change this product's settings of an environment (sync on/off, mass-disable threshold, default security roles); JSON merge patch, If-Match required. Nothing the platform owns can be set.",
  tag: TAG,
  access: ACCESS.environmentWrite,
  upstream: true,
  params: environmentParamsSchema,
  body: environmentPatchSchema,
  responses: {
    200: { description: "Updated", schema: environmentSchema, headers: etag },
    422: {
      description:
        "unknown-security-role (a default role the environment does not have; roleIds), environment-without-dataverse (D5: sync on or default roles " +
        "for an environment without a Dataverse database)",
    },
  },
});

export const syncRunsPost = defineEndpoint({
  name: "environments-sync-runs-post",
  method: "POST",
  route: `${base}/{environmentId}/sync-runs`,
  summary: "D1: start a run of the environment's sync now (a full reconcile after a fresh directory read). 409 while another run is in progress; 422 sync-disabled while the environment's sync is off.",
  tag: TAG,
  access: ACCESS.environmentWrite,
  upstream: true,
  params: environmentParamsSchema,
  responses: {
    202: { description: "Accepted: poll the Location", schema: acceptedSchemaOf(runStateApiSchema), headers: location },
    409: { description: "sync-run-in-progress (another run of this environment; runId)" },
    422: {
      description:
        "sync-disabled (the environment's sync is off), environment-not-synced (D5: a type the sync never serves), " +
        "environment-without-dataverse (D5: no Dataverse database, no users)",
    },
  },
});

export const syncRunsList = defineEndpoint({
  name: "environments-sync-runs-list",
  method: "GET",
  route: `${base}/{environmentId}/sync-runs`,
  summary: "D11: the environment's sync runs, newest first.",
  tag: TAG,
  access: ACCESS.read,
  upstream: true,
  params: environmentParamsSchema,
  query: listQuerySchema,
  responses: { 200: { description: "Runs", schema: listResponseSchema(syncRunSchema) } },
});

export const syncRunsGet = defineEndpoint({
  name: "environments-sync-runs-get",
  method: "GET",
  route: `${base}/{environmentId}/sync-runs/{runId}`,
  summary: "D11: one run: counts (read, added, updated, disabled, re-enabled, drift, skipped, failed), duration, checkpoint and state.",
  tag: TAG,
  access: ACCESS.read,
  params: syncRunParamsSchema,
  responses: { 200: { description: "The run", schema: syncRunSchema } },
});

export const syncRunActionsList = defineEndpoint({
  name: "environments-sync-runs-actions",
  method: "GET",
  route: `${base}/{environmentId}/sync-runs/{runId}/actions`,
  summary:
    "D11/D13: the changes a run planned (who is added, re-enabled, updated, disabled - with the rules each fails), in plan order; " +
    "what to read before approving a held run. Kept while the run runs or waits: 409 sync-run-plan-unavailable before it planned and once it ended.",
  tag: TAG,
  access: ACCESS.read,
  upstream: true,
  params: syncRunParamsSchema,
  query: runActionsQuery,
  responses: {
    200: { description: "Planned changes", schema: listResponseSchema(runActionSchema) },
    409: { description: "sync-run-plan-unavailable: the run has not planned yet, or it ended (its plan is not kept; state)" },
  },
});

export const syncRunsApprove = defineEndpoint({
  name: "environments-sync-runs-approve",
  method: "POST",
  route: `${base}/{environmentId}/sync-runs/{runId}/approve`,
  summary: "D13: approve a run the mass-disable guard holds; it continues with its plan, disabling only the users still ineligible in the directory as the tenant's last directory read saw it (every sync interval; the others are skipped). 409 when the run is not waiting for approval.",
  tag: TAG,
  access: ACCESS.environmentWrite,
  params: syncRunParamsSchema,
  responses: {
    202: { description: "Approved; the run continues", schema: acceptedSchemaOf(runStateApiSchema), headers: location },
    409: { description: "sync-run-not-awaiting-approval (state), or sync-run-changed: the run changed meanwhile (read it again)" },
    422: { description: "sync-disabled: the environment's sync was turned off while the run waited (reject it, or turn the sync on)" },
  },
});

export const syncRunsReject = defineEndpoint({
  name: "environments-sync-runs-reject",
  method: "POST",
  route: `${base}/{environmentId}/sync-runs/{runId}/reject`,
  summary: "D13: reject a run the mass-disable guard holds: it ends `rejected` with nothing disabled and the environment's sync is free to run again (a later run is held again if the directory still asks for as many disables). 409 when the run is not waiting for approval.",
  tag: TAG,
  access: ACCESS.environmentWrite,
  params: syncRunParamsSchema,
  responses: {
    200: { description: "Rejected: the run as it ended", schema: syncRunSchema },
    409: { description: "sync-run-not-awaiting-approval (state), or sync-run-changed: the run changed meanwhile (read it again)" },
  },
});

export const environmentUsersList = defineEndpoint({
  name: "environments-users-list",
  method: "GET",
  route: `${base}/{environmentId}/users`,
  summary: "The environment's systemuser records with status, access mode, type (D7) and drift (D0).",
  tag: TAG,
  access: ACCESS.read,
  upstream: true,
  params: environmentParamsSchema,
  query: environmentUsersQuery,
  responses: {
    200: { description: "Users", schema: listResponseSchema(environmentUserSchema) },
    422: { description: "environment-without-dataverse (D5: no Dataverse database, no users)" },
  },
});

export const environmentUsersPost = defineEndpoint({
  name: "environments-users-post",
  method: "POST",
  route: `${base}/{environmentId}/users`,
  summary: "D4: add a user on demand (or re-enable a disabled one) if the on-demand rules allow it; 422 with the failed rules otherwise.",
  tag: TAG,
  access: ACCESS.environmentWrite,
  upstream: true,
  params: environmentParamsSchema,
  body: addEnvironmentUserSchema,
  responses: {
    200: { description: "Done", schema: oneUserResultSchema },
    404: { description: "user-not-found (D4: Entra ID does not know the id and the environment has no record of it; userId), or not-found (the environment)" },
    409: { description: "record-not-directory-managed: an application, support or delegated-admin record - the sync never changes it (D7)" },
    422: { description: "user-not-eligible (userId, environmentId, failedRules), platform-refused (the add; platform, lever), environment-without-dataverse (D5: no Dataverse database, no users)" },
  },
});

export const environmentUsersRefresh = defineEndpoint({
  name: "environments-users-refresh",
  method: "POST",
  route: `${base}/{environmentId}/users/{userId}/refresh`,
  summary: "D9: re-sync one user from Entra now (refresh, re-enable, update, or disable when no longer eligible).",
  tag: TAG,
  access: ACCESS.environmentWrite,
  upstream: true,
  params: environmentUserParamsSchema,
  responses: {
    200: { description: "Done", schema: oneUserResultSchema },
    404: { description: "user-not-found (D9: Entra ID does not know the id and the environment has no record of it; userId), or not-found (the environment)" },
    409: { description: "record-not-directory-managed: an application, support or delegated-admin record - the sync never changes it (D7)" },
    422: { description: "user-not-eligible (userId, environmentId, failedRules), platform-refused (the add; platform, lever), environment-without-dataverse (D5: no Dataverse database, no users)" },
  },
});

export const environmentUsersDiagnostics = defineEndpoint({
  name: "environments-users-diagnostics",
  method: "GET",
  route: `${base}/{environmentId}/users/{userId}/diagnostics`,
  summary: "D10: why is (or is not) this user in the environment - every rule, passed or failed, with the data it used and the lever that would change the outcome.",
  tag: TAG,
  access: ACCESS.read,
  upstream: true,
  params: environmentUserParamsSchema,
  responses: { 200: { description: "Diagnostics", schema: diagnosticsSchema } },
});

export const environmentUsersPatch = defineEndpoint({
  name: "environments-users-patch",
  method: "PATCH",
  route: `${base}/{environmentId}/users/{userId}`,
  summary: "D8: change a user's access mode; an 8th non-interactive user is a 409 (D7).",
  tag: TAG,
  access: ACCESS.environmentWrite,
  upstream: true,
  params: environmentUserParamsSchema,
  body: accessModePatchSchema,
  responses: {
    200: { description: "Updated", schema: environmentUserSchema },
    409: { description: "non-interactive-limit (D7: an 8th non-interactive user; limit, current), or record-not-directory-managed (an application, support or delegated-admin record, D7)" },
    422: { description: "environment-without-dataverse (D5: no Dataverse database, no users)" },
  },
});

export const applicationUsersPost = defineEndpoint({
  name: "environments-application-users-post",
  method: "POST",
  route: `${base}/{environmentId}/application-users`,
  summary: "D7: create an application user from an app registration's application id (no limit on their number).",
  tag: TAG,
  access: ACCESS.environmentWrite,
  upstream: true,
  params: environmentParamsSchema,
  body: applicationUserCreateSchema,
  responses: {
    201: { description: "Created", schema: applicationUserSchema, headers: { Location: "Where to read the application user" } },
    409: { description: "application-user-exists (also while another request is creating it)" },
    422: {
      description:
        "unknown-security-role (roleIds), environment-without-dataverse (D5: no Dataverse database, no users), platform-refused (the tenant has no such " +
        "application in Entra ID; applicationId, environmentId, platform, lever)",
    },
  },
});

export const applicationUsersGet = defineEndpoint({
  name: "environments-application-users-get",
  method: "GET",
  route: `${base}/{environmentId}/application-users/{applicationId}`,
  summary: "D7: one application user of the environment (status; a disabled one says that its integrations are broken).",
  tag: TAG,
  access: ACCESS.read,
  upstream: true,
  params: applicationUserParamsSchema,
  responses: {
    200: { description: "The application user", schema: applicationUserSchema },
    422: { description: "environment-without-dataverse (D5: no Dataverse database, no users)" },
  },
});

export const applicationUsersPatch = defineEndpoint({
  name: "environments-application-users-patch",
  method: "PATCH",
  route: `${base}/{environmentId}/application-users/{applicationId}`,
  summary: "D7: enable or disable an application user. Disabling one breaks every integration that uses it (the answer says so).",
  tag: TAG,
  access: ACCESS.environmentWrite,
  upstream: true,
  params: applicationUserParamsSchema,
  body: applicationUserPatchSchema,
  responses: {
    200: { description: "Updated", schema: applicationUserSchema },
    422: { description: "environment-without-dataverse (D5: no Dataverse database, no users)" },
  },
});

export const ENVIRONMENT_ENDPOINTS = [
  environmentsList, environmentsGet, environmentsPatch, syncRunsPost, syncRunsList, syncRunsGet, syncRunActionsList, syncRunsApprove, syncRunsReject,
  environmentUsersList, environmentUsersPost, environmentUsersRefresh, environmentUsersDiagnostics, environmentUsersPatch, applicationUsersPost,
  applicationUsersGet, applicationUsersPatch,
] as const;

