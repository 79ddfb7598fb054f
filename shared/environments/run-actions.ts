import type { z } from "zod";
import { AppError, notFound } from "../errors/app-error.js";
import { decodeCursor, encodeCursor } from "../http/conventions.js";
import type { PlannedAction } from "../sync/decide.js";
import type { SyncDeps } from "../sync/deps.js";
import type { RunDocument } from "../sync/documents.js";
import { actionKey } from "../sync/environment-run.js";
import { TERMINAL_STATES } from "../sync/runs.js";
import type { SystemUserRow } from "../sync/model.js";
import type { runActionSchema, runActionsQuery } from "./schemas.js";

type RunAction = z.infer<typeof runActionSchema>;

/**
 * D11/D13: the changes a run planned, a page at a time - what an admin reads before approving a
 * held run (who would be disabled, and which rule each fails). A run's plan is kept in chunks while
 * it runs or waits; it is discarded when the run ends (its counts and failures stay on the run).
 * Names come from the environment's records (users to add have none yet).
 */
export async function listRunActions(
  deps: SyncDeps, tenantId: string, environmentId: string, runId: string, query: z.infer<typeof runActionsQuery>,
): Promise<{ items: RunAction[]; nextCursor: string | null }> {
  const found = await deps.store.readRun(tenantId, environmentId, runId);
  if (!found) throw notFound(`Sync run ${runId}`);
  const run = found.doc;
  const plan = requirePlan(run);
  const filter = { runId, op: query.op ?? null };
  const position = decodeCursor(query.cursor, tenantId, filter);
  let [chunk, index] = position ? position.split(":").map(Number) as [number, number] : [0, 0];
  const picked: { action: PlannedAction; processed: boolean }[] = [];
  while (chunk < plan.chunks && picked.length < query.limit) {
    const actions = await deps.store.readPlanChunk(tenantId, environmentId, runId, chunk).catch(async (err: unknown) => {
      // The run ended (its plan discarded) while the page was read.
      const now = await deps.store.readRun(tenantId, environmentId, runId);
      if (now) requirePlan(now.doc);
      throw err;
    });
    for (; index < actions.length && picked.length < query.limit; index++) {
      const action = actions[index]!;
      if (query.op && action.op !== query.op) continue;
      picked.push({ action, processed: isProcessed(run, chunk, index, action) });
    }
    if (index >= actions.length) [chunk, index] = [chunk + 1, 0];
  }
  const rows = await namesOf(deps, tenantId, run, picked.map((p) => p.action.userId));
  return {
    items: picked.map(({ action, processed }) => viewOf(action, processed, rows.get(action.userId))),
    nextCursor: chunk < plan.chunks ? encodeCursor(tenantId, filter, `${chunk}:${index}`) : null,
  };
}

function requirePlan(run: RunDocument): NonNullable<RunDocument["plan"]> {
  if (run.plan && !TERMINAL_STATES.has(run.state)) return run.plan;
  const why = TERMINAL_STATES.has(run.state)
    ? `it ended ${run.state} and its plan is not kept (its counts and failures are on the run)`
    : `it has not planned yet (state ${run.state})`;
  throw new AppError("conflict", `Sync run ${run.runId} has no plan to list: ${why}.`, { code: "sync-run-plan-unavailable", extensions: { state: run.state } });
}

/** Handled already (made, refused, failed or skipped): an earlier window, or this window's part the run checkpointed. */
function isProcessed(run: RunDocument, chunk: number, index: number, action: PlannedAction): boolean {
  const { progress } = run;
  if (chunk < progress.chunk || (chunk === progress.chunk && index < progress.position)) return true;
  return chunk === progress.chunk && progress.doneInWindow.includes(actionKey(action));
}

async function namesOf(deps: SyncDeps, tenantId: string, run: RunDocument, userIds: string[]): Promise<Map<string, SystemUserRow>> {
  if (!run.environment || userIds.length === 0) return new Map();
  const rows = await deps.dataverse(tenantId, run.environment, "interactive").systemUsersByObjectIds(userIds);
  return new Map(rows.flatMap((r) => (r.azureactivedirectoryobjectid ? [[r.azureactivedirectoryobjectid.toLowerCase(), r] as const] : [])));
}

function viewOf(action: PlannedAction, processed: boolean, row: SystemUserRow | undefined): RunAction {
  return {
    userId: action.userId,
    op: action.op,
    systemUserId: "systemUserId" in action ? action.systemUserId : (row?.systemuserid ?? null),
    userPrincipalName: row?.domainname ?? null,
    fullName: row?.fullname ?? null,
    failedRules: action.op === "disable" ? action.failedRules : null,
    fields: action.op === "update" ? Object.keys(action.patch) : null,
    roleIds: action.op === "assignRoles" ? action.roleIds : null,
    processed,
  };
}
