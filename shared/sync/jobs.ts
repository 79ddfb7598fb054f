import { z } from "zod";
import { newEnvelope } from "../queue/envelope.js";
import type { JobQueue } from "./deps.js";

/**
 * Messages of the `sync-jobs` queue. A job runs in chunks: each message works for at most
 * SYNC_CHUNK_SECONDS, checkpoints, and sends the next step. A message whose step is not the
 * stored one is a duplicate or a leftover of a crashed worker, and is dropped.
 */
export const SYNC_DIRECTORY_KIND = "sync-directory";
export const SYNC_ENVIRONMENT_KIND = "sync-environment";

export const directoryJobSchema = z.object({
  /**
   * schedule: the timer; manual: an admin started a run; continue: the next chunk of a cycle;
   * resume: automation resumed (P11: runs that met the pause go on now); follow-up: a run ended
   * behind the directory (changes read while it ran get their run now, not at the next schedule).
   */
  trigger: z.enum(["schedule", "manual", "continue", "resume", "follow-up"]),
  cycle: z.number().int().optional(),
  step: z.number().int().optional(),
});
export type DirectoryJob = z.infer<typeof directoryJobSchema>;

export const environmentJobSchema = z.object({
  environmentId: z.string().min(1),
  runId: z.string().min(1),
  step: z.number().int().min(1),
});
export type EnvironmentJob = z.infer<typeof environmentJobSchema>;

export async function enqueueDirectoryJob(queue: JobQueue, tenantId: string, job: DirectoryJob, delaySeconds?: number): Promise<void> {
  await queue.send(newEnvelope({ kind: SYNC_DIRECTORY_KIND, tenantId, body: job }), delaySeconds ? { delaySeconds } : undefined);
}

export async function enqueueEnvironmentJob(queue: JobQueue, tenantId: string, job: EnvironmentJob, delaySeconds?: number): Promise<void> {
  // A stable id per run and step: a re-send of the same step is recognisable (Service Bus duplicate detection).
  await queue.send(
    newEnvelope({ kind: SYNC_ENVIRONMENT_KIND, tenantId, id: `${job.runId}.${job.step}`, body: job }),
    delaySeconds ? { delaySeconds } : undefined,
  );
}
