import { Gate } from "../concurrency/gate.js";

/**
 * Sync work that holds a whole tenant in memory: an environment's full plan (every user of the
 * tenant and every record of the environment, ~400 MB at 100,000 users) and the directory cycle's
 * fold of a full read (every staged user and the whole snapshot). The sync timer starts every due
 * environment together and the host runs up to batchSize + newBatchThreshold queue messages at once,
 * so without a bound one instance would hold several tenants' worth of users at the same time. A
 * process runs at most SYNC_TENANT_SIZED_JOBS_PER_PROCESS such pieces of work at once; a job that
 * finds them all taken goes back on the queue for TENANT_SIZED_WAIT_SECONDS (as its next step),
 * where another instance may take it.
 */
export const tenantSizedWork = new Gate();
export const TENANT_SIZED_WAIT_SECONDS = 30;
