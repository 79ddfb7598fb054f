/**
 * Runs one invocation the way the Node.js worker does (its InvocationHandler): the app's
 * programming model builds the arguments from RPC data (so handlers get the real `HttpRequest` /
 * `InvocationContext` objects, converted by `@azure/functions` itself), preInvocation hooks,
 * the handler, postInvocation hooks, then the model converts the result back to RPC data.
 */
import { randomUUID } from "node:crypto";
import {
  core,
  type CoreInvocationContext,
  type FunctionCallback,
  type ProgrammingModel,
  type RegisteredFunction,
  type RpcInvocationRequest,
  type RpcInvocationResponse,
  type RpcLogCategory,
  type RpcLogLevel,
  type RpcTypedData,
} from "./core.js";
import { errorMessage, type HostLogger, type HostLogLevel } from "./log.js";

export interface InvokeRequest {
  fn: RegisteredFunction;
  /** Shown in the `Executing` line, like the host's trigger reason. */
  reason: string;
  inputData: { name: string; data: RpcTypedData | undefined }[];
  triggerMetadata?: Record<string, RpcTypedData>;
  retryContext?: RpcInvocationRequest["retryContext"];
  invocationId?: string;
}

export type InvokeOutcome =
  | { invocationId: string; succeeded: true; response: RpcInvocationResponse; result: unknown; durationMs: number }
  | { invocationId: string; succeeded: false; error: unknown; durationMs: number };

function toHostLevel(level: RpcLogLevel): HostLogLevel | undefined {
  return level === "none" ? undefined : level;
}

interface LogContext {
  hookData: Record<string, unknown>;
  invocationContext: unknown;
}

export class Invoker {
  readonly #inFlight = new Set<Promise<unknown>>();
  #inLogHook = false;

  constructor(
    private readonly model: ProgrammingModel,
    private readonly logger: HostLogger,
  ) {}

  get inFlightCount(): number {
    return this.#inFlight.size;
  }

  /** Writes a worker log line, passing it through registered `log` hooks first (as the worker does). */
  log(level: RpcLogLevel, category: RpcLogCategory, message: string, functionName?: string, invocationId?: string, logContext?: LogContext): void {
    const hooks = core.hooks("log");
    if (hooks.length > 0 && !this.#inLogHook) {
      const ctx: Record<string, unknown> = {
        level,
        message,
        category,
        invocationContext: logContext?.invocationContext,
        hookData: logContext?.hookData ?? {},
        appHookData: core.appHookData,
      };
      this.#inLogHook = true;
      try {
        for (const hook of hooks) hook(ctx);
      } catch (err) {
        this.logger.error(`A "log" hook threw: ${errorMessage(err)}`);
      } finally {
        this.#inLogHook = false;
      }
      if (category === "user") {
        level = ctx.level as RpcLogLevel;
        message = String(ctx.message);
      }
    }
    const hostLevel = toHostLevel(level);
    if (!hostLevel) return;
    this.logger.write(hostLevel, message, {
      category: category === "user" ? "user" : "system",
      ...(functionName ? { functionName } : {}),
      ...(invocationId ? { invocationId } : {}),
    });
  }

  invoke(req: InvokeRequest): Promise<InvokeOutcome> {
    const promise = this.#invoke(req);
    this.#inFlight.add(promise);
    void promise.finally(() => this.#inFlight.delete(promise));
    return promise;
  }

  /** Waits for running invocations, at most `timeoutMs`. True when all finished. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.#inFlight.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const all = Promise.allSettled([...this.#inFlight]).then(() => true as const);
    const done = await Promise.race([all, timeout]);
    clearTimeout(timer);
    return done;
  }

  async #invoke(req: InvokeRequest): Promise<InvokeOutcome> {
    const { fn } = req;
    const name = fn.metadata.name;
    const invocationId = req.invocationId ?? randomUUID();
    const started = performance.now();
    this.logger.info(`Executing 'Functions.${name}' (Reason='${req.reason}', Id=${invocationId})`, { functionName: name, invocationId });

    let logContext: LogContext | undefined;
    const coreCtx: CoreInvocationContext = {
      invocationId,
      request: {
        invocationId,
        functionId: fn.metadata.functionId ?? name,
        inputData: req.inputData.map((i) => ({ name: i.name, data: i.data ?? null })),
        triggerMetadata: req.triggerMetadata ?? {},
        traceContext: { traceParent: `00-${randomUUID().replace(/-/g, "")}-${randomUUID().replace(/-/g, "").slice(0, 16)}-00`, traceState: "", attributes: {} },
        ...(req.retryContext ? { retryContext: req.retryContext } : {}),
      },
      metadata: fn.metadata,
      log: (level, category, message) => this.log(level, category, message, name, invocationId, logContext),
    };

    try {
      const invocationModel = await this.model.getInvocationModel(coreCtx);
      const hookData: Record<string, unknown> = {};
      const args = await invocationModel.getArguments();
      const context = args.context;
      logContext = { hookData, invocationContext: context };

      const pre: Record<string, unknown> = {
        hookData,
        appHookData: core.appHookData,
        invocationContext: context,
        functionCallback: fn.callback,
        inputs: args.inputs,
      };
      coreCtx.state = "preInvocationHooks";
      try {
        for (const hook of core.hooks("preInvocation")) await hook(pre);
      } finally {
        coreCtx.state = undefined;
      }
      const inputs = pre.inputs as unknown[];
      const callback = pre.functionCallback as FunctionCallback;

      const post: Record<string, unknown> = {
        hookData,
        appHookData: core.appHookData,
        invocationContext: context,
        inputs,
        result: null,
        error: null,
      };
      coreCtx.state = "invocation";
      try {
        post.result = await invocationModel.invokeFunction(context, inputs, callback);
      } catch (err) {
        post.error = err;
      } finally {
        coreCtx.state = undefined;
      }
      coreCtx.state = "postInvocationHooks";
      try {
        for (const hook of core.hooks("postInvocation")) await hook(post);
      } finally {
        coreCtx.state = undefined;
      }
      // Like the worker: anything thrown counts as a failure, Error or not.
      // eslint-disable-next-line @typescript-eslint/only-throw-error
      if (post.error !== null && post.error !== undefined) throw post.error;

      const response = await invocationModel.getResponse(context, post.result);
      const durationMs = Math.round(performance.now() - started);
      this.logger.info(`Executed 'Functions.${name}' (Succeeded, Id=${invocationId}, Duration=${durationMs}ms)`, { functionName: name, invocationId });
      return { invocationId, succeeded: true, response, result: post.result, durationMs };
    } catch (error) {
      const durationMs = Math.round(performance.now() - started);
      const stack = error instanceof Error && error.stack ? `\nStack: ${error.stack}` : "";
      this.logger.error(
        `Executed 'Functions.${name}' (Failed, Id=${invocationId}, Duration=${durationMs}ms)\n` +
          `Result: Failure\nException: ${errorMessage(error)}${stack}`,
        { functionName: name, invocationId },
      );
      return { invocationId, succeeded: false, error, durationMs };
    }
  }
}

// ---- RPC typed data helpers --------------------------------------------------------------------

/** The message text an output binding value becomes (what the host writes to a queue). */
export function typedDataToStrings(data: RpcTypedData | null | undefined): string[] {
  if (!data) return [];
  const one = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v));
  if (data.string !== undefined && data.string !== null) return [data.string];
  if (data.json !== undefined && data.json !== null) {
    const parsed = JSON.parse(data.json) as unknown;
    // An array writes one message per element (JS output bindings).
    return Array.isArray(parsed) ? parsed.map(one) : [data.json];
  }
  if (data.bytes) return [Buffer.from(data.bytes).toString("utf8")];
  if (data.int !== undefined && data.int !== null) return [String(data.int)];
  if (data.double !== undefined && data.double !== null) return [String(data.double)];
  if (data.collectionString?.string) return data.collectionString.string;
  if (data.collectionBytes?.bytes) return data.collectionBytes.bytes.map((b) => Buffer.from(b).toString("utf8"));
  if (data.collectionDouble?.double) return data.collectionDouble.double.map(String);
  if (data.collectionSint64?.sint64) return data.collectionSint64.sint64.map(String);
  return [];
}

/** The body bytes of an RPC HTTP response body. */
export function typedDataToBuffer(data: RpcTypedData | null | undefined): Buffer {
  if (!data) return Buffer.alloc(0);
  if (data.bytes) return Buffer.from(data.bytes);
  if (data.stream) return Buffer.from(data.stream);
  if (data.string !== undefined && data.string !== null) return Buffer.from(data.string, "utf8");
  if (data.json !== undefined && data.json !== null) return Buffer.from(data.json, "utf8");
  if (data.int !== undefined && data.int !== null) return Buffer.from(String(data.int));
  if (data.double !== undefined && data.double !== null) return Buffer.from(String(data.double));
  return Buffer.alloc(0);
}

/** A date in trigger metadata, typed as the Functions host types a DateTimeOffset (JSON, a quoted ISO string). */
export function jsonDate(date: Date): RpcTypedData {
  return { json: JSON.stringify(date.toISOString()) };
}

/** The host-side `sys` trigger metadata every invocation carries. */
export function sysMetadata(functionName: string): RpcTypedData {
  return { json: JSON.stringify({ MethodName: functionName, UtcNow: new Date().toISOString(), RandGuid: randomUUID() }) };
}
