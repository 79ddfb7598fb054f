/**
 * The Node.js arguments of the Functions worker process: the app setting
 * `languageWorkers__node__arguments`, which the Azure Functions host (and Core Tools, from
 * local.settings.json) puts on the worker's command line. The local host honours it the same way,
 * so the app runs locally with the flags it runs with in Azure (infra/main.bicep sets the same value).
 */
export const WORKER_ARGUMENTS_SETTING = "languageWorkers__node__arguments";

/**
 * `--no-memory-reducer`: V8's memory reducer, once a process has allocated little for 8 s, runs
 * full garbage collections that shrink the heap. The sync's worker goes idle that long between its
 * bursts of addUser whenever the admin API throttles it (it waits out the Retry-After), and paid
 * for each shrink in the next burst: a throttled 20,000-user first sync took 177-217 us of CPU per
 * user with the reducer and 139.8 us without it (docs/benchmarks.md). The cost: a worker that
 * has gone idle keeps its heap until it next allocates (ordinary collections still run then).
 */
export const WORKER_NODE_ARGUMENTS = "--no-memory-reducer";

/** The arguments a setting's value holds (separated by white space, as the host splits them). */
export function workerNodeArguments(value: string | undefined): string[] {
  return (value ?? "").split(/\s+/).filter((a) => a !== "");
}
