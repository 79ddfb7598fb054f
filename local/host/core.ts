/**
 * Our implementation of `@azure/functions-core`, the module the Azure Functions Node.js worker
 * provides inside the host. `@azure/functions` requires it lazily (`tryGetCoreApiLazy`) and then
 * calls `setProgrammingModel` and `registerFunction(metadata, handler)` for every `app.*` call.
 * Like the real worker, we provide it by intercepting `Module.prototype.require`.
 *
 * The module object is a process-wide singleton: `@azure/functions` caches it on first use.
 */
import Module from "node:module";

// ---- The subset of the @azure/functions-core contract the local host uses ----------------------

export interface RpcNullableString { value?: string | null }

export interface RpcHttpCookie {
  name?: string | null;
  value?: string | null;
  domain?: RpcNullableString | null;
  path?: RpcNullableString | null;
  expires?: { value?: { seconds?: number | bigint | null } | null } | null;
  secure?: { value?: boolean | null } | null;
  httpOnly?: { value?: boolean | null } | null;
  sameSite?: "none" | "lax" | "strict" | "explicitNone" | null;
  maxAge?: { value?: number | null } | null;
}

export interface RpcHttpData {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  nullableHeaders?: Record<string, RpcNullableString> | null;
  query?: Record<string, string> | null;
  nullableQuery?: Record<string, RpcNullableString> | null;
  params?: Record<string, string> | null;
  nullableParams?: Record<string, RpcNullableString> | null;
  body?: RpcTypedData | null;
  statusCode?: string | null;
  cookies?: RpcHttpCookie[] | null;
  enableContentNegotiation?: boolean | null;
}

export interface RpcTypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  stream?: Uint8Array | null;
  http?: RpcHttpData | null;
  int?: number | bigint | null;
  double?: number | null;
  collectionString?: { string?: string[] | null } | null;
  collectionBytes?: { bytes?: Uint8Array[] | null } | null;
  collectionDouble?: { double?: number[] | null } | null;
  collectionSint64?: { sint64?: (number | bigint)[] | null } | null;
}

export interface RpcBindingInfo {
  type?: string | null;
  direction?: "in" | "out" | "inout" | null;
  dataType?: string | null;
  properties?: Record<string, string> | null;
  [key: string]: unknown;
}

export interface RpcDuration { seconds?: number | bigint | null; nanos?: number | null }

export interface RpcRetryOptions {
  maxRetryCount?: number | null;
  delayInterval?: RpcDuration | null;
  minimumInterval?: RpcDuration | null;
  maximumInterval?: RpcDuration | null;
  retryStrategy?: "exponentialBackoff" | "fixedDelay" | null;
}

export interface FunctionMetadata {
  name: string;
  functionId?: string;
  bindings: Record<string, RpcBindingInfo>;
  retryOptions?: RpcRetryOptions;
}

export type FunctionCallback = (...args: unknown[]) => unknown;

export type RpcLogLevel = "trace" | "debug" | "information" | "warning" | "error" | "critical" | "none";
export type RpcLogCategory = "user" | "system" | "customMetric";

export interface RpcInvocationRequest {
  invocationId?: string | null;
  functionId?: string | null;
  inputData?: { name?: string | null; data?: RpcTypedData | null }[] | null;
  triggerMetadata?: Record<string, RpcTypedData> | null;
  traceContext?: { traceParent?: string | null; traceState?: string | null; attributes?: Record<string, string> | null } | null;
  retryContext?: { retryCount?: number | null; maxRetryCount?: number | null; exception?: { message?: string | null; stackTrace?: string | null; source?: string | null } | null } | null;
}

export interface RpcInvocationResponse {
  invocationId?: string | null;
  outputData?: { name?: string | null; data?: RpcTypedData | null }[] | null;
  returnValue?: RpcTypedData | null;
}

export interface CoreInvocationContext {
  invocationId: string;
  request: RpcInvocationRequest;
  metadata: FunctionMetadata;
  state?: "preInvocationHooks" | "postInvocationHooks" | "invocation";
  log(level: RpcLogLevel, category: RpcLogCategory, message: string): void;
}

export interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], callback: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<RpcInvocationResponse>;
}

export interface ProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreContext: CoreInvocationContext): InvocationModel | Promise<InvocationModel>;
  getCapabilities?(capabilities: Record<string, string>): Record<string, string> | Promise<Record<string, string>>;
}

export type HookName = "appStart" | "appTerminate" | "preInvocation" | "postInvocation" | "log";
export type HookCallback = (context: Record<string, unknown>) => unknown;

export class Disposable {
  static from(...disposables: { dispose: () => unknown }[]): Disposable {
    return new Disposable(() => {
      for (const d of disposables) d.dispose();
    });
  }

  #callOnDispose: (() => unknown) | undefined;

  constructor(callOnDispose: () => unknown) {
    this.#callOnDispose = callOnDispose;
  }

  dispose(): unknown {
    const fn = this.#callOnDispose;
    this.#callOnDispose = undefined;
    return fn?.();
  }
}

// ---- State ------------------------------------------------------------------------------------

export interface RegisteredFunction {
  metadata: FunctionMetadata;
  callback: FunctionCallback;
}

export class RegistrationError extends Error {
  override name = "AzFuncSystemError";
}

/** Receives system logs written outside an invocation (`coreApi.log`). */
export type CoreLogSink = (level: RpcLogLevel, category: RpcLogCategory, message: string) => void;

interface CoreState {
  functions: Map<string, RegisteredFunction>;
  hooks: Map<string, HookCallback[]>;
  programmingModel?: ProgrammingModel;
  /** Registration is allowed only while an entry point is loading (as in the worker). */
  registrationOpen: boolean;
  appHookData: Record<string, unknown>;
  appLevelOnlyHookData: Record<string, unknown>;
  logSink: CoreLogSink;
  installed: boolean;
}

const STATE_KEY = Symbol.for("license-control-plane.local-functions-host.core");

function state(): CoreState {
  const g = globalThis as unknown as Record<symbol, CoreState | undefined>;
  let s = g[STATE_KEY];
  if (!s) {
    s = {
      functions: new Map(),
      hooks: new Map(),
      registrationOpen: false,
      appHookData: {},
      appLevelOnlyHookData: {},
      logSink: () => {},
      installed: false,
    };
    g[STATE_KEY] = s;
  }
  return s;
}

/** The object `require("@azure/functions-core")` returns. */
function createCoreApi(): Record<string, unknown> {
  const s = state();
  return {
    version: "4.0.0-local",
    hostVersion: "4.0.0-local",
    Disposable,
    registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
      if (!s.registrationOpen) throw new RegistrationError("A function can only be registered during app startup.");
      const functionId = metadata.functionId || metadata.name;
      for (const existing of s.functions.values()) {
        if (existing.metadata.name.toLowerCase() === metadata.name.toLowerCase()) {
          throw new RegistrationError(`A function with id "${functionId}" has already been registered.`);
        }
      }
      s.functions.set(functionId, { metadata, callback });
      return new Disposable(() => {
        if (!s.registrationOpen) throw new RegistrationError("A function can only be disposed during app startup.");
        s.functions.delete(functionId);
      });
    },
    setProgrammingModel(model: ProgrammingModel): void {
      s.programmingModel = model;
    },
    getProgrammingModel(): ProgrammingModel | undefined {
      return s.programmingModel;
    },
    registerHook(hookName: string, callback: HookCallback): Disposable {
      const list = s.hooks.get(hookName) ?? [];
      list.push(callback);
      s.hooks.set(hookName, list);
      return new Disposable(() => {
        const current = s.hooks.get(hookName) ?? [];
        s.hooks.set(hookName, current.filter((c) => c !== callback));
      });
    },
    log(level: RpcLogLevel, category: RpcLogCategory, message: string): void {
      s.logSink(level, category, message);
    },
  };
}

/**
 * Makes `require("@azure/functions-core")` return our implementation, exactly as the worker does
 * (a Proxy on `Module.prototype.require`). Idempotent.
 */
export function installCoreModule(): void {
  const s = state();
  if (s.installed) return;
  const coreApi = createCoreApi();
  const proto = Module.prototype as unknown as { require: (id: string) => unknown };
  proto.require = new Proxy(proto.require, {
    apply(target, thisArg, args: unknown[]) {
      if (args[0] === "@azure/functions-core") return coreApi;
      return Reflect.apply(target, thisArg, args) as unknown;
    },
  });
  s.installed = true;
}

export const core = {
  get functions(): ReadonlyMap<string, RegisteredFunction> {
    return state().functions;
  },
  get programmingModel(): ProgrammingModel | undefined {
    return state().programmingModel;
  },
  get appHookData(): Record<string, unknown> {
    return state().appHookData;
  },
  get appLevelOnlyHookData(): Record<string, unknown> {
    return state().appLevelOnlyHookData;
  },
  hooks(name: HookName): HookCallback[] {
    return [...(state().hooks.get(name) ?? [])];
  },
  setRegistrationOpen(open: boolean): void {
    state().registrationOpen = open;
  },
  setLogSink(sink: CoreLogSink): void {
    state().logSink = sink;
  },
};
