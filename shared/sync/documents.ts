import { z } from "zod";
import { RULE_IDS } from "./eligibility.js";
import { accessModeSchema, directoryUserSchema, platformEnvironmentSchema, tenantFactsSchema } from "./model.js";

/**
 * The sync's documents in the `sync` container. Two kinds of partition:
 * - `tenantId|directory`: what the tenant's directory cycle reads and every environment shares
 *   (directory state with its delta links and lease, one state per environment, the user snapshot
 *   in bucket documents, staged delta pages, the per-cycle change journal);
 * - `tenantId|env|environmentId`: one environment's runs, their plans, drift, D6 locks and D8
 *   access-mode pins.
 */
export const directoryPartition = (tenantId: string) => `${tenantId}|directory`;
export const environmentPartition = (tenantId: string, environmentId: string) => `${tenantId}|env|${environmentId}`;

export const leaseSchema = z.object({ owner: z.string(), expiresAt: z.number() });
export type Lease = z.infer<typeof leaseSchema>;

const groupStreamSchema = z.object({ groupIds: z.array(z.string()), deltaLink: z.string() });
export type GroupStream = z.infer<typeof groupStreamSchema>;

export const activeCycleSchema = z.object({
  cycle: z.number().int(),
  step: z.number().int(),
  startedAt: z.string(),
  /** users -> groups (delta pages staged) -> fold (journal computed) -> store (snapshot written) -> fanout (runs started). */
  phase: z.enum(["users", "groups", "fold", "store", "fanout"]),
  /** The users round is a full one (first cycle, or after 410 Gone). */
  usersFull: z.boolean(),
  usersNextLink: z.string().nullable(),
  usersDeltaLink: z.string().nullable(),
  /** Tracked groups changed: every group stream starts over (full membership). */
  groupsFull: z.boolean(),
  groupStreamIndex: z.number().int(),
  groupNextLink: z.string().nullable(),
  /** The current group stream started from scratch (its first page carries a full-membership marker). */
  groupRoundFull: z.boolean(),
  newGroupStreams: z.array(groupStreamSchema),
  staged: z.number().int(),
  facts: tenantFactsSchema,
  environments: z.array(platformEnvironmentSchema),
  trackedGroups: z.array(z.string()),
  /** The eligibility inputs of every user changed (licenses table, tenant Marketing license). */
  reevaluateAll: z.boolean(),
  /** Set by the fold: the cycle is a full one for every environment. */
  fullCycle: z.boolean(),
  /** Set by the fold: how many journal documents the cycle has. */
  journalDocs: z.number().int(),
  bucketCount: z.number().int(),
});
export type ActiveCycle = z.infer<typeof activeCycleSchema>;

export const directoryStateSchema = z.object({
  id: z.literal("directory-state"),
  type: z.literal("directory-state"),
  tenantId: z.string(),
  partitionKey: z.string(),
  cycle: z.number().int(),
  usersDeltaLink: z.string().nullable(),
  groupStreams: z.array(groupStreamSchema),
  bucketCount: z.number().int(),
  facts: tenantFactsSchema.nullable(),
  environments: z.array(platformEnvironmentSchema),
  /** cycle -> number of journal documents (only cycles with changes). */
  journal: z.record(z.string(), z.number().int()),
  /** Cycles after which every environment must reconcile fully. */
  fullCycles: z.array(z.number().int()),
  /** Journal of cycles up to here was pruned: an environment behind it reconciles fully. */
  journalFloor: z.number().int(),
  lastCycleAt: z.string().nullable(),
  /**
   * D4: when the users/delta read of the cycle that stored the snapshot began (no later). A user
   * created after it may be missing from the snapshot although Entra has it (added on demand since).
   * Absent in states saved before it was kept.
   */
  usersReadAt: z.string().nullable().optional(),
  active: activeCycleSchema.nullable(),
  lease: leaseSchema.nullable(),
});
export type DirectoryState = z.infer<typeof directoryStateSchema>;

export const RUN_STATES = ["queued", "running", "awaiting-approval", "paused", "succeeded", "failed", "rejected"] as const;
export const runStateSchema = z.enum(RUN_STATES);
export type RunState = z.infer<typeof runStateSchema>;

export const runCountsSchema = z.object({
  read: z.number().int(),
  added: z.number().int(),
  updated: z.number().int(),
  disabled: z.number().int(),
  reEnabled: z.number().int(),
  drift: z.number().int(),
  skipped: z.number().int(),
  failed: z.number().int(),
});
export type RunCounts = z.infer<typeof runCountsSchema>;
export const zeroCounts = (): RunCounts => ({ read: 0, added: 0, updated: 0, disabled: 0, reEnabled: 0, drift: 0, skipped: 0, failed: 0 });

export const envStateSchema = z.object({
  id: z.string(),
  type: z.literal("env-state"),
  tenantId: z.string(),
  partitionKey: z.string(),
  environmentId: z.string(),
  /** The last directory cycle whose changes this environment has applied (0: never: a full reconcile comes first). */
  cursor: z.number().int(),
  lastFullAt: z.string().nullable(),
  /** Enabled directory-managed records at the last run (the base of the D13 guard). */
  enabledUsers: z.number().int().nullable(),
  activeRunId: z.string().nullable(),
  lastRun: z.object({ runId: z.string(), state: runStateSchema, finishedAt: z.string().nullable(), counts: runCountsSchema }).nullable(),
  /** D12: the batch size the last run tuned itself to (the next run starts from it). */
  batchSize: z.number().int().nullable(),
  /** Users with a failed action (failed-action marks) after the last run: the next cycle starts a run to retry them. */
  failedUsers: z.number().int().optional(),
});
export type EnvState = z.infer<typeof envStateSchema>;

export const syncSettingsSnapshotSchema = z.object({
  defaultSecurityRoleIds: z.array(z.string()),
  massDisableThresholdPercent: z.number(),
});

export const plannedActionSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("add"), userId: z.string(), accessMode: z.number().int().optional() }),
  z.object({ op: z.literal("reenable"), userId: z.string(), systemUserId: z.string(), accessMode: z.number().int().optional() }),
  z.object({ op: z.literal("update"), userId: z.string(), systemUserId: z.string(), patch: z.record(z.string(), z.union([z.string(), z.number(), z.null()])) }),
  z.object({ op: z.literal("disable"), userId: z.string(), systemUserId: z.string(), failedRules: z.array(z.enum(RULE_IDS)) }),
  z.object({ op: z.literal("assignRoles"), userId: z.string(), systemUserId: z.string(), roleIds: z.array(z.string()) }),
]);

/** What a run failed to do for a user: a planned action, or a default role (D14) of a user it added. */
export const RUN_FAILURE_OPS = ["add", "reenable", "update", "disable", "assignRoles", "assignRole"] as const;
export const runFailureSchema = z.object({ userId: z.string(), op: z.enum(RUN_FAILURE_OPS), code: z.string(), message: z.string() });

/** D13: why a run waits for an admin, and what the admin decided. */
export const runGuardSchema = z.object({
  disables: z.number().int(),
  enabledUsers: z.number().int(),
  thresholdPercent: z.number(),
  heldAt: z.string().nullable(),
  approvedBy: z.string().nullable(),
  approvedAt: z.string().nullable(),
  /** An admin refused the disables (the run ended `rejected`); absent on runs held before rejection existed. */
  rejectedBy: z.string().nullable().optional(),
  rejectedAt: z.string().nullable().optional(),
});export type RunGuard = z.infer<typeof runGuardSchema>;


export const runDocumentSchema = z.object({
  id: z.string(),
  type: z.literal("run"),
  runId: z.string(),
  tenantId: z.string(),
  environmentId: z.string(),
  partitionKey: z.string(),
  trigger: z.enum(["schedule", "manual"]),
  requestedBy: z.string().nullable(),
  state: runStateSchema,
  phase: z.enum(["plan", "apply", "done"]),
  full: z.boolean(),
  fromCycle: z.number().int(),
  targetCycle: z.number().int().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  durationMs: z.number().nullable(),
  step: z.number().int(),
  lease: leaseSchema.nullable(),
  /** Last checkpoint (epoch ms); with resumeAt, how a stalled run is told from a waiting one. */
  heartbeatAt: z.number(),
  /** The next chunk was sent with a delay (throttling): not stalled before then. */
  resumeAt: z.number().nullable(),
  environment: platformEnvironmentSchema.nullable(),
  settings: syncSettingsSnapshotSchema.nullable(),
  plan: z
    .object({
      chunks: z.number().int(),
      actions: z.number().int(),
      byOp: z.record(z.string(), z.number().int()),
      /** Adds whose record is read back after addUser (default roles, or an access mode to set); absent on older runs. */
      addsReadBack: z.number().int().optional(),
      enabledUsers: z.number().int(),
      /** Drift records the environment had when the run planned (none: windows need not look for them). */
      driftRecords: z.number().int(),
      /** Failed-action marks left when the run planned (none: windows need not look for them); absent on older runs. */
      failedMarks: z.number().int().optional(),
      /** Failed-action marks the plan read (some it may have cleared); absent on older runs. */
      failedMarksRead: z.number().int().optional(),
    })
    .nullable(),
  progress: z.object({ chunk: z.number().int(), position: z.number().int(), doneInWindow: z.array(z.string()) }),
  counts: runCountsSchema,
  guard: runGuardSchema.nullable(),
  batchSize: z.number().int().nullable(),
  pausedReason: z.string().nullable(),
  error: z.string().nullable(),
  failures: z.array(runFailureSchema),
});
export type RunDocument = z.infer<typeof runDocumentSchema>;

export const DRIFT_KINDS = ["enabledButIneligible", "eligibleButNotAdded", "disabledButEligible", "writeRefused"] as const;
export const driftKindSchema = z.enum(DRIFT_KINDS);

export const driftDocumentSchema = z.object({
  id: z.string(),
  type: z.literal("drift"),
  tenantId: z.string(),
  environmentId: z.string(),
  partitionKey: z.string(),
  userId: z.string(),
  systemUserId: z.string().nullable(),
  kind: driftKindSchema,
  failedRules: z.array(z.string()),
  platform: z.object({ status: z.number().int(), code: z.string(), message: z.string() }).nullable(),
  lever: z.string(),
  since: z.string(),
  lastSeenAt: z.string(),
  runId: z.string().nullable(),
  /** D13: an admin approved the disable the platform then refused: asked again, it does not hold a run again. */
  disableApprovedAt: z.string().nullable().optional(),
});
export type DriftDocument = z.infer<typeof driftDocumentSchema>;

export const emailLockSchema = z.object({
  id: z.string(),
  type: z.literal("email-lock"),
  tenantId: z.string(),
  partitionKey: z.string(),
  userId: z.string(),
  lockedAt: z.string(),
  value: z.string().nullable(),
});
export type EmailLock = z.infer<typeof emailLockSchema>;

/**
 * D8: an access mode an admin chose for a user (PATCH …/users/{userId}). The license decides the
 * default (read-write or administrative); while a pin stands the sync keeps the pinned mode (and sets it
 * again when something resets it, e.g. addUser re-enabling the user).
 */
export const accessModePinSchema = z.object({
  id: z.string(),
  type: z.literal("access-mode-pin"),
  tenantId: z.string(),
  environmentId: z.string(),
  partitionKey: z.string(),
  userId: z.string(),
  accessMode: accessModeSchema,
  pinnedBy: z.string(),
  pinnedAt: z.string(),
});
export type AccessModePin = z.infer<typeof accessModePinSchema>;
export const accessModePinId = (userId: string) => `access-mode-pin|${userId}`;

/**
 * A user whose action failed (a 5xx or an unknown error, not a refusal: that is drift). The next
 * run retries the user, incremental or not, until the action succeeds, is refused, or is no longer
 * needed; then the mark goes. D14: `roleIds` are default roles a user this product added did not
 * receive (op `assignRoles`); the next run, a refresh (D9) or an on-demand add gives them.
 */
export const failedActionSchema = z.object({
  id: z.string(),
  type: z.literal("failed-action"),
  tenantId: z.string(),
  environmentId: z.string(),
  partitionKey: z.string(),
  userId: z.string(),
  op: z.string(),
  code: z.string(),
  message: z.string(),
  since: z.string(),
  lastSeenAt: z.string(),
  /** The run that recorded it; null for an on-demand add or a refresh. */
  runId: z.string().nullable(),
  roleIds: z.array(z.string()).optional(),
});
export type FailedAction = z.infer<typeof failedActionSchema>;
export const failedActionId = (userId: string) => `failed|${userId}`;

export const bucketDocumentSchema = z.object({
  id: z.string(),
  type: z.literal("bucket"),
  partitionKey: z.string(),
  users: z.array(z.unknown()),
});

/** A staged users/delta entry; the id FULL_LISTING marks where a full round (re)starts. */
export const stagedUserSchema = directoryUserSchema.partial().extend({ id: z.string() });
export type StagedUser = z.infer<typeof stagedUserSchema>;
/** A staged membership change (g group, u user, a added); u = FULL_LISTING: group g is listed whole from here. */
export const stagedMemberChangeSchema = z.object({ g: z.string(), u: z.string(), a: z.boolean() });
export const FULL_LISTING = "*";
export type StagedMemberChange = z.infer<typeof stagedMemberChangeSchema>;
