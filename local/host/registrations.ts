/**
 * Loads the app's entry module with our `@azure/functions-core` in place and records what it
 * registers: the real metadata `@azure/functions` produces (`toCoreFunctionMetadata`) and the
 * handlers, plus the programming model.
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import { core, installCoreModule, type FunctionMetadata, type ProgrammingModel, type RegisteredFunction, type RpcBindingInfo } from "./core.js";
import { errorMessage } from "./log.js";

export type TriggerKind =
  | "http" | "timer" | "queue" | "serviceBus" | "blob" | "eventHub" | "eventGrid" | "cosmosDB" | "warmup" | "other";

/** One registered function, normalised for display and for contract tests. */
export interface FunctionInfo {
  name: string;
  trigger: TriggerKind;
  /** The binding type as registered, e.g. `httpTrigger`. */
  triggerType: string;
  /** HTTP: the route the host serves (the function name when none was given), without the prefix. */
  route?: string;
  methods?: string[];
  authLevel?: string;
  /** Timer: the schedule as registered (`%Setting%` placeholders not resolved). */
  schedule?: string;
  runOnStartup?: boolean;
  useMonitor?: boolean;
  /** Queue / Service Bus: the queue name as registered. */
  queueName?: string;
  connection?: string;
}

export interface CapturedApp {
  entry: string;
  functions: RegisteredFunction[];
  programmingModel?: ProgrammingModel;
  table: FunctionInfo[];
  warnings: string[];
}

/** The app's entry module failed while loading (e.g. a configuration error thrown at import). */
export class AppLoadError extends Error {
  override name = "AppLoadError";
  constructor(readonly entry: string, override readonly cause: unknown) {
    super(`Worker was unable to load entry point "${path.basename(entry)}": ${errorMessage(cause)}`);
  }
}

const KINDS: Record<string, TriggerKind> = {
  httptrigger: "http",
  timertrigger: "timer",
  queuetrigger: "queue",
  servicebustrigger: "serviceBus",
  blobtrigger: "blob",
  eventhubtrigger: "eventHub",
  eventgridtrigger: "eventGrid",
  cosmosdbtrigger: "cosmosDB",
  warmuptrigger: "warmup",
};

export function triggerBinding(metadata: FunctionMetadata): { name: string; binding: RpcBindingInfo } {
  for (const [name, binding] of Object.entries(metadata.bindings)) {
    if (binding.type && /trigger$/i.test(binding.type)) return { name, binding };
  }
  throw new Error(`function "${metadata.name}" has no trigger binding`);
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

export function describeFunction(fn: RegisteredFunction): FunctionInfo {
  const { binding } = triggerBinding(fn.metadata);
  const triggerType = binding.type ?? "unknown";
  const info: FunctionInfo = { name: fn.metadata.name, trigger: KINDS[triggerType.toLowerCase()] ?? "other", triggerType };
  if (info.trigger === "http") {
    info.route = str(binding.route) ?? fn.metadata.name;
    const methods = Array.isArray(binding.methods) ? (binding.methods as unknown[]).map((m) => String(m).toUpperCase()) : undefined;
    if (methods) info.methods = methods;
    const authLevel = str(binding.authLevel);
    if (authLevel) info.authLevel = authLevel;
  }
  if (info.trigger === "timer") {
    const schedule = str(binding.schedule);
    if (schedule !== undefined) info.schedule = schedule;
    if (typeof binding.runOnStartup === "boolean") info.runOnStartup = binding.runOnStartup;
    if (typeof binding.useMonitor === "boolean") info.useMonitor = binding.useMonitor;
  }
  const queueName = str(binding.queueName);
  if (queueName !== undefined) info.queueName = queueName;
  const connection = str(binding.connection);
  if (connection !== undefined) info.connection = connection;
  return info;
}

const captures = new Map<string, Promise<CapturedApp>>();

function entryUrl(entryModulePath: string): string {
  if (/^(file|data|node):/.test(entryModulePath)) return entryModulePath;
  return pathToFileURL(path.resolve(entryModulePath)).href;
}

/**
 * Installs our `@azure/functions-core`, imports the entry module (ESM; `.ts` under tsx or `.js`
 * from dist) and returns the functions it registered. An entry is loaded once per process (ESM
 * caches it), so repeated calls return the first capture.
 */
export function captureRegistrations(entryModulePath: string): Promise<CapturedApp> {
  const url = entryUrl(entryModulePath);
  let capture = captures.get(url);
  if (!capture) {
    capture = doCapture(url);
    captures.set(url, capture);
    // A failed load may be retried (e.g. after fixing the environment) — don't cache failures.
    capture.catch(() => captures.delete(url));
  }
  return capture;
}

async function doCapture(url: string): Promise<CapturedApp> {
  installCoreModule();
  const before = new Set(core.functions.keys());
  core.setRegistrationOpen(true);
  try {
    await import(url);
  } catch (err) {
    throw new AppLoadError(url.startsWith("file:") ? new URL(url).pathname : url, err);
  } finally {
    core.setRegistrationOpen(false);
  }
  const functions = [...core.functions.entries()].filter(([id]) => !before.has(id)).map(([, fn]) => fn);
  const warnings: string[] = [];
  if (functions.length === 0) {
    warnings.push(
      core.programmingModel
        ? "The app registered no functions."
        : 'No functions were registered and no programming model was set: "@azure/functions" may have been loaded before the local host provided "@azure/functions-core" (it then runs in "test mode").',
    );
  }
  const captured: CapturedApp = {
    entry: url,
    functions,
    table: functions.map(describeFunction),
    warnings,
  };
  if (core.programmingModel) captured.programmingModel = core.programmingModel;
  return captured;
}
