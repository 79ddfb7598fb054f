/**
 * A small local Azure Functions host for the Node.js v4 programming model: it loads the app with
 * our `@azure/functions-core`, then serves HTTP triggers, runs timer triggers and polls
 * storage-queue triggers with the real host's semantics (see README-style notes in each module).
 */
import path from "node:path";
import { randomUUID } from "node:crypto";
import { HostConfigError, loadHostJson, loadLocalSettings, resolveSettingPlaceholders, type HostJson } from "./config.js";
import { core, type RegisteredFunction, type RpcTypedData } from "./core.js";
import { FrontDoor, type HttpRoute } from "./http-server.js";
import { Invoker, jsonDate, sysMetadata, type InvokeOutcome } from "./invoke.js";
import { consoleLogSink, errorMessage, HostLogger, type HostLogSink } from "./log.js";
import { OutputWriter, unsupportedBindings } from "./outputs.js";
import { QueueListener } from "./queues.js";
import { captureRegistrations, describeFunction, triggerBinding, type FunctionInfo } from "./registrations.js";
import { compareFunctionNames, parseRouteTemplate, routesConflict } from "./routes.js";
import { defaultUseMonitor, parseSchedule } from "./schedule.js";
import { normaliseQueueName, storageConnectionString, StorageQueues } from "./storage.js";
import { MANUAL_REASON, TimerListener } from "./timers.js";

export interface StartFunctionsHostOptions {
  /** The app's main module (`functions/index.ts` under tsx, `dist/functions/index.js` compiled). */
  appEntry: string;
  /** Port on 127.0.0.1; 0 picks a free one. Default: local.settings.json Host.LocalHttpPort, else 7071. */
  port?: number;
  hostname?: string;
  /** Default: `host.json` in the current directory. */
  hostJsonPath?: string;
  /** Folder holding local.settings.json (default: the host.json folder); `false` to skip it. */
  settingsDir?: string | false;
  /** Environment variables set (overriding) before the app loads. */
  env?: Record<string, string>;
  log?: HostLogSink;
  verbose?: boolean;
  /** Answer for a route that matches but not for the method: 404 like Azure (default), or 405. */
  methodMismatchStatus?: 404 | 405;
  /** How long `close()` waits for running invocations. Default 10 s. */
  drainTimeoutMs?: number;
  /** JSON listing of the functions at `GET /` (default true). */
  listingAtRoot?: boolean;
  /** Print the function table at start (default true). */
  printTable?: boolean;
}

export type FunctionState = "active" | "disabled" | "error" | "unsupported";

export interface HostFunction extends FunctionInfo {
  state: FunctionState;
  error?: string;
  /** HTTP: full URL template. */
  url?: string;
  /** Timer: the schedule after `%Setting%` resolution, and its next occurrence. */
  resolvedSchedule?: string;
  nextRun?: string;
  /** Queue: the queue name after resolution, and counters. */
  resolvedQueueName?: string;
  runs?: number;
  queueStats?: QueueListener["stats"];
}

export interface FunctionsHost {
  url: string;
  port: number;
  functions: HostFunction[];
  hostJson: HostJson;
  /** Runs a timer function now (after any run in progress); resolves when it has finished. */
  triggerTimer(name: string): Promise<InvokeOutcome>;
  /** Runs any non-HTTP function with an input, like `POST /admin/functions/{name}`; resolves when done. */
  runFunction(name: string, input?: unknown): Promise<InvokeOutcome>;
  close(): Promise<void>;
}

interface Entry {
  fn: RegisteredFunction;
  info: HostFunction;
  triggerName: string;
  timer?: TimerListener;
  queue?: QueueListener;
}

const truthy = (v: string | undefined) => v !== undefined && /^(1|true)$/i.test(v.trim());

function listen(server: FrontDoor["server"], port: number, hostname: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      reject(err.code === "EADDRINUSE" ? new HostConfigError(`Port ${port} is unavailable (already in use). Close the process using it or choose another port with --port.`) : err);
    };
    const onListening = () => {
      server.off("error", onError);
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, hostname);
  });
}

function inputToString(input: unknown): string {
  if (input === undefined || input === null) return "";
  return typeof input === "string" ? input : JSON.stringify(input);
}

export async function startFunctionsHost(options: StartFunctionsHostOptions): Promise<FunctionsHost> {
  const logger = new HostLogger(options.log ?? consoleLogSink({ verbose: options.verbose ?? false }));
  const hostJsonPath = path.resolve(options.hostJsonPath ?? "host.json");
  for (const [k, v] of Object.entries(options.env ?? {})) process.env[k] = v;
  const settings = options.settingsDir === false ? undefined : loadLocalSettings(options.settingsDir ?? path.dirname(hostJsonPath));
  process.env.AZURE_FUNCTIONS_ENVIRONMENT ??= "Development";
  const hostJson = loadHostJson(hostJsonPath);

  core.setLogSink((level, category, message) => {
    if (level !== "none") logger.write(level, message, { category: category === "user" ? "user" : "system" });
  });
  const app = await captureRegistrations(options.appEntry);
  for (const w of app.warnings) logger.warn(w);
  const model = app.programmingModel;
  if (!model && app.functions.length > 0) throw new HostConfigError("The app registered functions but no programming model");

  // Like the worker after loading the entry point: appStart hooks, then capabilities (locks app.setup).
  for (const hook of core.hooks("appStart")) {
    await hook({ hookData: core.appLevelOnlyHookData, appHookData: core.appHookData, functionAppDirectory: path.dirname(hostJsonPath) });
  }
  const capabilities = model?.getCapabilities ? await model.getCapabilities({}) : {};
  const streamUri = capabilities.HttpUri;

  const invoker = new Invoker(model ?? { name: "none", version: "0", getInvocationModel: () => { throw new Error("no programming model"); } }, logger);
  // From now on, worker system logs pass through the app's `log` hooks, as in the worker.
  core.setLogSink((level, category, message) => invoker.log(level, category, message));
  const storage = new StorageQueues();
  const outputs = new OutputWriter(storage, hostJson.queues);
  const timezone = process.env.WEBSITE_TIME_ZONE || undefined;

  const entries: Entry[] = app.functions.map((fn) => {
    const info: HostFunction = { ...describeFunction(fn), state: "active" };
    const { name: triggerName, binding } = triggerBinding(fn.metadata);
    const entry: Entry = { fn, info, triggerName };
    const listed = !hostJson.functions || hostJson.functions.some((n) => n.toLowerCase() === info.name.toLowerCase());
    if (!listed || truthy(process.env[`AzureWebJobs.${info.name}.Disabled`])) {
      info.state = "disabled";
      return entry;
    }
    try {
      if (!/^[a-z][a-z0-9_-]{0,127}$/i.test(info.name)) throw new HostConfigError(`'${info.name}' is not a valid function name`);
      const unsupported = unsupportedBindings(fn);
      if (unsupported.length > 0) logger.warn(`Function '${info.name}': the local host does not provide ${unsupported.join(", ")}`);
      if (info.trigger === "timer") {
        const resolved = resolveSettingPlaceholders(info.schedule ?? "");
        const schedule = parseSchedule(resolved, timezone ? { timezone } : {});
        info.resolvedSchedule = resolved;
        entry.timer = new TimerListener(
          { fn, triggerName, schedule, runOnStartup: binding.runOnStartup === true, useMonitor: info.useMonitor ?? defaultUseMonitor(schedule) },
          { invoker, outputs, logger },
        );
      } else if (info.trigger === "queue") {
        const queueName = normaliseQueueName(resolveSettingPlaceholders(info.queueName ?? ""));
        storageConnectionString(info.connection); // fails early when the setting is missing
        info.resolvedQueueName = queueName;
        entry.queue = new QueueListener({ fn, triggerName, queueName, connection: info.connection }, { invoker, outputs, storage, options: hostJson.queues, logger });
      } else if (info.trigger !== "http") {
        info.state = "unsupported";
        logger.warn(`Function '${info.name}' (${info.triggerType}) has no listener in the local host; run it with POST /admin/functions/${info.name}`);
      }
    } catch (err) {
      info.state = "error";
      info.error = errorMessage(err);
      logger.error(`The '${info.name}' function is in error: ${info.error}`);
    }
    return entry;
  });

  const routes: HttpRoute[] = [];
  // In name order, as the host validates them: of two conflicting routes, the later name is in error.
  for (const e of [...entries].sort((a, b) => compareFunctionNames(a.info.name, b.info.name))) {
    if (e.info.trigger !== "http" || e.info.state !== "active") continue;
    try {
      const route = e.info.route ?? e.info.name;
      const template = parseRouteTemplate(route);
      const methods = e.info.methods && e.info.methods.length > 0 ? new Set(e.info.methods) : undefined;
      const taken = routes.find((r) => routesConflict({ route: r.template.template, methods: r.methods }, { route, methods }));
      if (taken) throw new HostConfigError(`The route specified conflicts with the route defined by function '${taken.fn.metadata.name}'.`);
      routes.push({ fn: e.fn, triggerName: e.triggerName, template, methods });
    } catch (err) {
      e.info.state = "error";
      e.info.error = errorMessage(err);
      logger.error(`The '${e.info.name}' function is in error: ${e.info.error}`);
    }
  }

  const find = (name: string) => entries.find((e) => e.info.name.toLowerCase() === name.toLowerCase());

  const runFunction = (name: string, input: unknown): Promise<InvokeOutcome> => {
    const e = find(name);
    if (!e || e.info.state === "disabled" || e.info.state === "error") return Promise.reject(new Error(`No runnable function named '${name}'`));
    if (e.info.trigger === "http") return Promise.reject(new Error(`'${name}' is HTTP-triggered: call its route`));
    if (e.timer) return e.timer.runNow();
    const text = inputToString(input);
    const triggerMetadata: Record<string, RpcTypedData> = { sys: sysMetadata(e.info.name) };
    if (e.info.trigger === "queue") {
      const now = new Date();
      Object.assign(triggerMetadata, {
        QueueTrigger: { string: text },
        DequeueCount: { json: "0" },
        Id: { string: randomUUID() },
        PopReceipt: { string: "" },
        InsertionTime: jsonDate(now),
        ExpirationTime: jsonDate(new Date(now.getTime() + 7 * 86_400_000)),
        NextVisibleTime: jsonDate(now),
      });
    }
    return invoker
      .invoke({ fn: e.fn, reason: MANUAL_REASON, inputData: [{ name: e.triggerName, data: { string: text } }], triggerMetadata })
      .then(async (outcome) => {
        if (outcome.succeeded) await outputs.write(e.fn, outcome.response);
        return outcome;
      });
  };

  let baseUrl = "";
  const listing = (): HostFunction[] =>
    entries.map((e) => {
      const info: HostFunction = { ...e.info };
      if (info.trigger === "http") info.url = `${baseUrl}/${[hostJson.routePrefix, info.route ?? info.name].filter(Boolean).join("/")}`;
      if (e.timer) {
        info.nextRun = e.timer.nextOccurrence.toISOString();
        info.runs = e.timer.runs;
      }
      if (e.queue) info.queueStats = { ...e.queue.stats };
      return info;
    });

  const frontDoor = new FrontDoor({
    routePrefix: hostJson.routePrefix,
    routes,
    invoker,
    outputs,
    logger,
    listing,
    methodMismatchStatus: options.methodMismatchStatus ?? 404,
    listingAtRoot: options.listingAtRoot ?? true,
    ...(settings?.cors ? { cors: { origins: settings.cors, credentials: settings.corsCredentials ?? false } } : {}),
    ...(streamUri ? { streamUri } : {}),
    runFunction: (name, input) => {
      const e = find(name);
      if (!e || e.info.state === "disabled" || e.info.state === "error") return "unknown";
      if (e.info.trigger === "http") return "http";
      runFunction(name, input).catch((err: unknown) => logger.error(`Running '${name}' failed: ${errorMessage(err)}`));
      return "started";
    },
  });

  const hostname = options.hostname ?? "127.0.0.1";
  const port = await listen(frontDoor.server, options.port ?? settings?.localHttpPort ?? 7071, hostname);
  baseUrl = `http://${hostname}:${port}`;

  for (const e of entries) {
    e.timer?.start();
    e.queue?.start();
  }

  if (options.printTable ?? true) {
    const lines = listing().map((f) => {
      const what =
        f.state === "disabled" ? "disabled"
        : f.state === "error" ? `in error: ${f.error}`
        : f.trigger === "http" ? `[${(f.methods ?? ["*"]).join(",")}] ${f.url}`
        : f.trigger === "timer" ? `timerTrigger (schedule '${f.resolvedSchedule}'${f.runOnStartup ? ", runOnStartup" : ""})`
        : f.trigger === "queue" ? `queueTrigger (queue '${f.resolvedQueueName}'${f.connection ? `, connection '${f.connection}'` : ""})`
        : `${f.triggerType} (no local listener)`;
      return `        ${f.name}: ${what}`;
    });
    logger.info(`Functions:\n\n${lines.join("\n\n")}\n`);
  }

  let closing: Promise<void> | undefined;
  const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      logger.info("Stopping the host");
      const bounded = async <T>(p: Promise<T>) => {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, drainTimeoutMs)))]);
        clearTimeout(timer);
      };
      await Promise.all(entries.map((e) => (e.timer ? bounded(e.timer.stop()) : e.queue ? e.queue.stop(drainTimeoutMs) : Promise.resolve())));
      const closed = new Promise<void>((resolve) => frontDoor.server.close(() => resolve()));
      frontDoor.server.closeIdleConnections();
      if (!(await invoker.drain(drainTimeoutMs))) logger.warn(`${invoker.inFlightCount} invocation(s) still running after ${drainTimeoutMs} ms; stopping anyway`);
      for (const hook of core.hooks("appTerminate")) {
        try {
          await hook({ hookData: core.appLevelOnlyHookData, appHookData: core.appHookData });
        } catch (err) {
          logger.error(`An appTerminate hook failed: ${errorMessage(err)}`);
        }
      }
      frontDoor.server.closeAllConnections();
      await closed;
      logger.info("Host stopped");
    })());

  return {
    url: baseUrl,
    port,
    hostJson,
    get functions() {
      return listing();
    },
    triggerTimer(name: string) {
      const e = find(name);
      if (!e?.timer) return Promise.reject(new Error(`No active timer function named '${name}'`));
      return e.timer.runNow();
    },
    runFunction: (name, input) => runFunction(name, input),
    close,
  };
}
