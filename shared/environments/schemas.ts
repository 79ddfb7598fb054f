import { z } from "zod";
import { listQuerySchema, objectIdSchema, tenantIdSchema } from "../http/conventions.js";
import { DRIFT_KINDS, RUN_FAILURE_OPS, RUN_STATES, runCountsSchema, runGuardSchema } from "../sync/documents.js";
import { RULE_IDS } from "../sync/eligibility.js";
import { accessModeSchema, ENVIRONMENT_TYPES, recordKindSchema } from "../sync/model.js";
import { GUID_PATTERN } from "../ids.js";

/** The HTTP shapes of the environment and sync endpoints (D4-D15); OpenAPI is generated from them. */

const guid = z.string().regex(GUID_PATTERN, "must be a GUID").transform((s) => s.toLowerCase());

/** Power Platform environment ids: GUIDs, or `Default-<tenant id>` for a tenant's default environment. */
export const environmentIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9-]{1,100}$/, "must be a Power Platform environment id")
  .transform((s) => s.toLowerCase())
  .describe("Power Platform environment id (from GET …/environments)");

export const environmentParamsSchema = z.object({ tenantId: tenantIdSchema, environmentId: environmentIdSchema });
export const environmentUserParamsSchema = environmentParamsSchema.extend({ userId: objectIdSchema.transform((s) => s.toLowerCase()) });
export const syncRunParamsSchema = environmentParamsSchema.extend({ runId: z.guid() });
export const applicationUserParamsSchema = environmentParamsSchema.extend({ applicationId: guid.describe("The application (client) id of the app registration") });

export const environmentTypeApiSchema = z.enum([...ENVIRONMENT_TYPES, "Other"]);
export const runStateApiSchema = z.enum(RUN_STATES);
export const driftKindApiSchema = z.enum(DRIFT_KINDS);
export const ruleIdSchema = z.enum(RULE_IDS);

export const environmentSettingsApiSchema = z.object({
  syncEnabled: z.boolean(),
  massDisableThresholdPercent: z.number().describe("D13: share of enabled users a run may disable without an admin's approval"),
  massDisableThresholdIsDefault: z.boolean(),
  defaultSecurityRoleIds: z.array(z.string()).describe("D14: roles a user added by this product receives"),
});

/** D11: the counts a run records are the counts the API shows. */
export const runCountsApiSchema = runCountsSchema.describe("D11: users read, added, updated, disabled, re-enabled, found drifting, skipped and failed");

export const environmentSchema = z.object({
  id: z.string(),
  displayName: z.string(),
  type: environmentTypeApiSchema,
  region: z.string().nullable(),
  hasDataverse: z.boolean(),
  dataverseUrl: z.string().nullable().describe("As the Power Platform admin API reports it (D15)"),
  securityGroupId: z.string().nullable(),
  createdBy: z.string().nullable(),
  expirationTime: z.string().nullable(),
  settings: environmentSettingsApiSchema,
  sync: z.object({
    activeRunId: z.string().nullable(),
    lastRun: z.object({ runId: z.string(), state: runStateApiSchema, finishedAt: z.string().nullable(), counts: runCountsApiSchema }).nullable(),
    lastFullReconcileAt: z.string().nullable(),
    lastDirectoryReadAt: z.string().nullable(),
  }),
});

/** PATCH: a JSON merge patch of this product's settings only; anything else (a URL, a type, a group) is refused. */
export const environmentPatchSchema = z
  .object({
    syncEnabled: z.boolean().optional(),
    massDisableThresholdPercent: z.number().min(0).max(100).nullable().optional(),
    defaultSecurityRoleIds: z.array(guid).max(20).optional(),
  })
  .strict();

export const runActionsQuery = listQuerySchema.extend({
  op: z.enum(["add", "reenable", "update", "disable", "assignRoles"]).optional().describe("Only the changes of this kind"),
});

/** D11/D13: one change a run planned. */
export const runActionSchema = z
  .object({
    userId: z.string().describe("Entra object id"),
    op: z.enum(["add", "reenable", "update", "disable", "assignRoles"]),
    systemUserId: z.string().nullable().describe("The user's record in the environment (null for a user not added yet)"),
    userPrincipalName: z.string().nullable().describe("The record's domainname (null for a user not added yet)"),
    fullName: z.string().nullable(),
    failedRules: z.array(ruleIdSchema).nullable().describe("disable: the eligibility rules the user fails (see the user's diagnostics)"),
    fields: z.array(z.string()).nullable().describe("update: the record's columns that change (D6)"),
    roleIds: z.array(z.string()).nullable().describe("assignRoles: the default security roles owed (D14)"),
    processed: z
      .boolean()
      .describe(
        "The run has handled it already - made, refused by the platform (drift), failed, or skipped (an approved disable of a user eligible again): " +
          "see the run's counts and failures, and the audit trail's sync.changes records",
      ),
  })
  .strict();

export const syncRunSchema = z.object({
  id: z.string(),
  environmentId: z.string(),
  trigger: z.enum(["schedule", "manual"]),
  requestedBy: z.string().nullable(),
  state: runStateApiSchema,
  full: z.boolean().describe("A full reconcile (every record compared) or an incremental run (changed users only)"),
  counts: runCountsApiSchema,
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  durationMs: z.number().nullable(),
  checkpoint: z.object({
    directoryCycle: z.number().int().nullable().describe("The tenant directory read (delta) the run applies"),
    phase: z.enum(["plan", "apply", "done"]),
    planChunk: z.number().int(),
    position: z.number().int(),
    planActions: z.number().int().nullable(),
  }),
  plan: z.record(z.string(), z.number().int()).nullable(),
  guard: runGuardSchema
    .required({ rejectedBy: true, rejectedAt: true })
    .nullable()
    .describe("D13: the mass-disable guard held the run; an admin approves it (the disables still ineligible are applied) or rejects it (nothing is disabled)"),
  batchSize: z.number().int().nullable(),
  pausedReason: z.string().nullable(),
  waitingUntil: z
    .string()
    .nullable()
    .describe("D12: Microsoft throttled the run past what its requests wait out in place (429 + Retry-After, a few seconds up to minutes); it goes on by itself at this time, where it left off. Shorter waits happen inside the run and show only as time"),
  error: z.string().nullable(),
  failures: z.array(z.object({ userId: z.string(), op: z.enum(RUN_FAILURE_OPS).describe("add, reenable, update, disable, assignRoles: the planned action; assignRole: a default role (D14) of a user the run added"), code: z.string(), message: z.string() })),
});

export const driftApiSchema = z.object({
  kind: driftKindApiSchema,
  failedRules: z.array(z.string()),
  lever: z.string(),
  platform: z.object({ status: z.number().int(), code: z.string(), message: z.string() }).nullable(),
  since: z.string(),
  lastSeenAt: z.string(),
});

/** D8: an access mode an admin chose; the sync keeps it (sets it again if reset) until it is unpinned. */
export const accessModePinApiSchema = z
  .object({ accessMode: accessModeSchema, pinnedBy: z.string(), pinnedAt: z.string() })
  .describe("D8: the access mode an admin set (PATCH …/users/{userId}); the sync no longer derives it from the license. Unpin with {\"accessMode\": null}");

export const environmentUserSchema = z.object({
  systemUserId: z.string(),
  userId: z.string().nullable().describe("Entra object id (a service principal for application users)"),
  domainName: z.string().nullable(),
  fullName: z.string().nullable(),
  status: z.enum(["enabled", "disabled"]),
  accessMode: accessModeSchema,
  type: recordKindSchema,
  applicationId: z.string().nullable(),
  accessModePin: accessModePinApiSchema.nullable(),
  drift: driftApiSchema.nullable(),
});

/** The users list: every record, or only the enabled or the disabled ones. */
export const environmentUsersQuery = listQuerySchema.extend({
  status: z.enum(["enabled", "disabled"]).optional().describe("Only enabled or only disabled records (default: all)"),
});

export const addEnvironmentUserSchema = z.object({ userId: objectIdSchema.transform((s) => s.toLowerCase()) }).strict();

export const oneUserResultSchema = z.object({
  userId: z.string(),
  environmentId: z.string(),
  outcome: z.enum(["added", "reEnabled", "refreshed", "updated", "disabled", "unchanged"]),
  systemUserId: z.string().nullable(),
  drift: z.object({ kind: driftKindApiSchema, lever: z.string(), platform: z.object({ status: z.number().int(), code: z.string(), message: z.string() }) }).nullable(),
  failedRules: z.array(z.object({ id: ruleIdSchema, title: z.string(), lever: z.string().nullable() })),
  roleFailures: z
    .array(z.object({ roleId: z.string(), code: z.string(), message: z.string() }))
    .describe("D14: default security roles the user added by this call did not receive, and why (also recorded in the audit trail)"),
});

export const ruleResultApiSchema = z.object({
  id: ruleIdSchema,
  title: z.string(),
  passed: z.boolean().describe("Holds for the periodic sync"),
  passedOnDemand: z.boolean().describe("Holds for an on-demand add (first access or the API)"),
  addOnly: z.boolean(),
  data: z.record(z.string(), z.unknown()).describe("The data the rule used"),
  exception: z.string().nullable(),
  lever: z.string().nullable().describe("What would change the outcome"),
});

export const diagnosticsSchema = z.object({
  userId: z.string(),
  environmentId: z.string(),
  environment: z.object({
    type: environmentTypeApiSchema,
    hasDataverse: z.boolean(),
    securityGroupId: z.string().nullable(),
    syncEnabled: z.boolean().describe("This product's sync switch for the environment: off, neither the periodic sync nor a first access adds or changes anyone there (an admin's POST …/users still adds)"),
    summary: z.string(),
  }),
  user: z.object({ found: z.boolean(), userPrincipalName: z.string().nullable(), accountEnabled: z.boolean().nullable(), userType: z.string().nullable(), adminRoles: z.array(z.string()) }),
  record: z.object({ systemUserId: z.string(), status: z.enum(["enabled", "disabled"]), accessMode: accessModeSchema, type: recordKindSchema }).nullable(),
  verdict: z.object({
    addInBackground: z.boolean().describe("By the rules, the periodic sync may add the user (it acts only while environment.syncEnabled)"),
    addOnDemand: z.boolean().describe("By the rules, an on-demand add (first access, the API) may add or re-enable the user"),
    keepEnabled: z.boolean().describe("By the rules, the user's record may stay enabled (otherwise the sync disables it, while environment.syncEnabled)"),
    accessMode: z.enum(["readWrite", "administrative"]).describe("D8: the mode the license and roles give, set when the user is added or re-enabled (a pin overrides it); the sync does not change the mode of a record that stays enabled"),
    expected: z
      .enum(["add", "reenable", "update", "disable", "assignRoles", "none", "notManaged"])
      .describe("What the periodic sync would do for the user - once turned on, when environment.syncEnabled is false (the explanation says so)"),
    explanation: z.string(),
  }),
  rules: z.array(ruleResultApiSchema),
  accessModePin: accessModePinApiSchema
    .extend({ lever: z.string() })
    .nullable()
    .describe("D8: set when an admin pinned the access mode: the sync keeps it (verdict.accessMode is what the license alone would give)"),
  drift: driftApiSchema.nullable(),
  pendingRoles: z
    .object({ roleIds: z.array(z.string()), code: z.string(), message: z.string(), since: z.string(), lastSeenAt: z.string(), lever: z.string() })
    .nullable()
    .describe("D14: default security roles this product's add of the user did not give (still the environment's defaults); the next sync run, a refresh or an on-demand add gives them"),
});

export const accessModePatchSchema = z
  .object({
    accessMode: z
      .enum(["readWrite", "administrative", "read", "nonInteractive"], {
        error: (issue) =>
          `${issue.input === undefined ? "is required: " : "must be "}one of readWrite, administrative, read, nonInteractive - or null to unpin the mode the license decides`,
      })
      .nullable()
      .describe("D8: the mode to set and pin (the sync then keeps it); null unpins it and sets the mode the license decides"),
  })
  .strict();

export const applicationUserCreateSchema = z
  .object({ applicationId: guid, securityRoleIds: z.array(guid).max(20).optional().describe("Default: the environment's default security roles (D14)") })
  .strict();
export const applicationUserPatchSchema = z.object({ enabled: z.boolean() }).strict();
export const applicationUserSchema = z.object({
  applicationId: z.string(),
  systemUserId: z.string(),
  status: z.enum(["enabled", "disabled"]),
  warning: z.string().nullable().describe("Set when disabling: the integrations using the app stop working"),
});

export const acceptedRunSchema = z.object({ id: z.string(), status: runStateApiSchema });
