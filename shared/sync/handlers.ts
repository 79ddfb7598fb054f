import type { InvocationContext } from "@azure/functions";
import { registerEnvelopeHandler } from "../events/dispatch.js";
import type { Envelope } from "../queue/envelope.js";
import { retryableUpstream } from "../clients/upstream-body.js";
import { getSyncDeps, type SyncDeps } from "./deps.js";
import { runDirectoryJob } from "./directory-cycle.js";
import { runEnvironmentJob } from "./environment-run.js";
import { directoryJobSchema, environmentJobSchema, SYNC_DIRECTORY_KIND, SYNC_ENVIRONMENT_KIND } from "./jobs.js";

/** Runs one `sync-jobs` message (the kind picks the job); the owner of its lease is the envelope id. */
export async function handleSyncJob(deps: SyncDeps, envelope: Envelope): Promise<string> {
  try {
    if (envelope.kind === SYNC_DIRECTORY_KIND) {
      return await runDirectoryJob(deps, envelope.tenantId, directoryJobSchema.parse(envelope.body), envelope.id);
    }
    return await runEnvironmentJob(deps, envelope.tenantId, environmentJobSchema.parse(envelope.body), envelope.id);
  } catch (err) {
    // A Microsoft server error (or an answer of no known shape) is retried like an outage: the job
    // resumes from its checkpoint under the same lease (a permanent failure held the lease, and every
    // run of the tenant, until it expired).
    throw retryableUpstream(err);
  }
}

let registered = false;

/** Registers the sync's envelope kinds with the dispatcher (once per process). */
export function registerSyncHandlers(): void {
  if (registered) return;
  registered = true;
  const handler = async (envelope: Envelope, context: InvocationContext) => {
    const outcome = await handleSyncJob(await getSyncDeps(), envelope);
    const body = envelope.body as { environmentId?: unknown; runId?: unknown };
    context.log(JSON.stringify({ event: "sync-job", kind: envelope.kind, tenantId: envelope.tenantId, environmentId: body.environmentId, runId: body.runId, outcome }));
  };
  registerEnvelopeHandler(SYNC_DIRECTORY_KIND, handler);
  registerEnvelopeHandler(SYNC_ENVIRONMENT_KIND, handler);
}
