/**
 * The checks that keep infra/ in step with the code, as pure functions of the Bicep source: each
 * returns the problems it found (empty when in step), so the test can run them on the real files and
 * on deliberately broken copies to show that each one can fail.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import type { ZodType } from "zod";
import { CONFIG_KEYS, ConfigError, configSchema, parseConfig } from "../../../shared/config/config.js";
import { EVENT_QUEUE_STORAGE_CONNECTION, EVENT_SERVICE_BUS_CONNECTION, EVENTS_QUEUE } from "../../../shared/events/queues.js";
import { CONTAINERS, type ContainerDeclaration } from "../../../shared/storage/containers.js";
import { WORKER_ARGUMENTS_SETTING, WORKER_NODE_ARGUMENTS } from "../../../local/worker-arguments.js";
import {
  allEntries,
  bodyOf,
  declaration,
  get,
  identifierOf,
  isToken,
  parseBicep,
  stringLiterals,
  type BicepValue,
  type Declaration,
  type Token,
} from "./bicep.js";

export const INFRA_FILES = {
  main: "infra/main.bicep",
  functionApp: "infra/modules/function-app.bicep",
  cosmos: "infra/modules/cosmos.bicep",
  serviceBus: "infra/modules/servicebus.bicep",
  storage: "infra/modules/storage.bicep",
  monitoring: "infra/modules/monitoring.bicep",
} as const;

export type InfraSources = Record<keyof typeof INFRA_FILES, string>;

export function readInfra(root: string = process.cwd()): InfraSources {
  const read = (file: string) => readFileSync(path.join(root, file), "utf8");
  return {
    main: read(INFRA_FILES.main),
    functionApp: read(INFRA_FILES.functionApp),
    cosmos: read(INFRA_FILES.cosmos),
    serviceBus: read(INFRA_FILES.serviceBus),
    storage: read(INFRA_FILES.storage),
    monitoring: read(INFRA_FILES.monitoring),
  };
}

/**
 * App settings the Bicep may set although the config schema does not know them: they belong to the
 * Functions host, the Azure SDK or the identity-based trigger connections, not to the app's config.
 * Keep this list short; a new entry needs a reason.
 */
export const HOST_OWNED_SETTINGS: readonly { name: RegExp; why: string }[] = [
  {
    name: /^AzureWebJobsStorage__(blobServiceUri|queueServiceUri|tableServiceUri|credential|clientId)$/,
    why: "the host's own storage (keys, timer leases), identity-based because the account has shared keys off",
  },
  {
    name: /^APPLICATIONINSIGHTS_(CONNECTION_STRING|AUTHENTICATION_STRING)$/,
    why: "telemetry; the authentication string makes the host use Entra ID, since the component has local auth off",
  },
  {
    name: new RegExp(`^${WORKER_ARGUMENTS_SETTING}$`),
    why: "the Node.js worker's command-line flags, which the host passes on (local/worker-arguments.ts)",
  },
  {
    name: new RegExp(`^(${EVENT_QUEUE_STORAGE_CONNECTION}|${EVENT_SERVICE_BUS_CONNECTION})__(credential|clientId)$`),
    why: "the rest of the trigger connections whose queueServiceUri / fullyQualifiedNamespace keys are in the schema: use the user-assigned identity",
  },
];

/** Settings for a developer machine only: the config schema refuses them in Azure. */
export const LOCAL_ONLY_SETTINGS = ["COSMOS_KEY", "COSMOS_BOOTSTRAP", "MS_API_CLIENT_SECRET"] as const;

/**
 * Settings Flex Consumption deprecates or rejects (runtime and deployment live in functionAppConfig),
 * plus a key-based AzureWebJobsStorage connection string (the account has shared keys off).
 */
export const FLEX_UNSUPPORTED_SETTINGS = [
  "FUNCTIONS_WORKER_RUNTIME",
  "FUNCTIONS_EXTENSION_VERSION",
  "WEBSITE_NODE_DEFAULT_VERSION",
  "WEBSITE_RUN_FROM_PACKAGE",
  "WEBSITE_CONTENTSHARE",
  "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
  "SCM_DO_BUILD_DURING_DEPLOYMENT",
  "ENABLE_ORYX_BUILD",
  "AzureWebJobsStorage",
] as const;

const shape = configSchema.shape as Record<string, ZodType>;

/** Schema keys that must be set: `undefined` is not accepted and no default fills them. */
export function requiredConfigKeys(): string[] {
  return Object.entries(shape)
    .filter(([, schema]) => !schema.safeParse(undefined).success)
    .map(([key]) => key);
}

function isHostOwned(key: string): boolean {
  return HOST_OWNED_SETTINGS.some((s) => s.name.test(key));
}

function requireDeclaration(decls: readonly Declaration[], keyword: Declaration["keyword"], name: string, file: string): Declaration & { value: BicepValue } {
  const found = declaration(decls, keyword, name);
  if (!found?.value) throw new Error(`${file}: no \`${keyword} ${name}\` with a value.`);
  return found as Declaration & { value: BicepValue };
}

function resourcesOfType(decls: readonly Declaration[], type: string): Declaration[] {
  return decls.filter((d) => d.keyword === "resource" && d.type?.split("@")[0] === type);
}

// ---------------------------------------------------------------- containers

export interface BicepContainer {
  name: string;
  partitionKeyPath: string;
  defaultTtl: number | undefined;
}

/** `var cosmosContainers = [ { name: '...', partitionKeyPath: '/...' } ... ]` in main.bicep. */
export function bicepContainers(main: string): BicepContainer[] {
  const list = requireDeclaration(parseBicep(main), "var", "cosmosContainers", INFRA_FILES.main).value;
  if (list.kind !== "array") throw new Error(`${INFRA_FILES.main}: cosmosContainers is not an array literal.`);
  return list.items.map((item) => {
    if (item.kind !== "object") throw new Error(`${INFRA_FILES.main}: cosmosContainers has a non-object item ${item.text}.`);
    const name = get(item, "name");
    const partitionKeyPath = get(item, "partitionKeyPath");
    const ttl = get(item, "defaultTtl");
    if (name?.kind !== "string" || name.interpolated || partitionKeyPath?.kind !== "string" || partitionKeyPath.interpolated) {
      throw new Error(`${INFRA_FILES.main}: cosmosContainers item ${item.text} needs literal name and partitionKeyPath strings.`);
    }
    // A number literal, or a negative one (-1: TTL on, no default): a minus token before it.
    const items = ttl?.kind === "expression" ? ttl.items : [];
    const minus = items.length === 2 && items[0] !== undefined && isToken(items[0]) && items[0].text === "-";
    const ttlToken = items.length === 1 || minus ? items[items.length - 1] : undefined;
    if (ttl && !(ttlToken && isToken(ttlToken) && ttlToken.kind === "number")) {
      throw new Error(`${INFRA_FILES.main}: defaultTtl of "${name.value}" must be a number literal.`);
    }
    return {
      name: name.value,
      partitionKeyPath: partitionKeyPath.value,
      defaultTtl: ttlToken && isToken(ttlToken) ? (minus ? -1 : 1) * Number(ttlToken.text) : undefined,
    };
  });
}

export function checkContainers(sources: Pick<InfraSources, "main" | "cosmos">, declared: readonly ContainerDeclaration[] = CONTAINERS): string[] {
  const problems: string[] = [];
  const inBicep = bicepContainers(sources.main);
  for (const c of declared) {
    const match = inBicep.filter((b) => b.name === c.name);
    if (match.length === 0) {
      problems.push(`container "${c.name}" (${c.partitionKeyPath}) is declared in shared/storage/containers.ts but missing from cosmosContainers in ${INFRA_FILES.main}`);
      continue;
    }
    if (match.length > 1) problems.push(`container "${c.name}" appears ${match.length} times in cosmosContainers`);
    const b = match[0]!;
    if (b.partitionKeyPath !== c.partitionKeyPath) {
      problems.push(`container "${c.name}": partition key ${b.partitionKeyPath} in ${INFRA_FILES.main}, ${c.partitionKeyPath} in shared/storage/containers.ts`);
    }
    if (b.defaultTtl !== c.defaultTtlSeconds) {
      problems.push(`container "${c.name}": defaultTtl ${String(b.defaultTtl)} in ${INFRA_FILES.main}, defaultTtlSeconds ${String(c.defaultTtlSeconds)} in the code`);
    }
  }
  for (const b of inBicep) {
    if (!declared.some((c) => c.name === b.name)) {
      problems.push(`container "${b.name}" is in cosmosContainers (${INFRA_FILES.main}) but not declared in shared/storage/containers.ts`);
    }
  }
  // The list must actually reach the container resources.
  const mainDecls = parseBicep(sources.main);
  const cosmosModule = requireDeclaration(mainDecls, "module", "cosmos", INFRA_FILES.main);
  if (identifierOf(get(bodyOf(cosmosModule.value), "params.containers")) !== "cosmosContainers") {
    problems.push(`${INFRA_FILES.main}: module cosmos must receive \`containers: cosmosContainers\``);
  }
  const containerResources = resourcesOfType(parseBicep(sources.cosmos), "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers");
  const loops = containerResources.filter((r) => /\bfor\s+(\w+)\s+in\s+containers\s*:/.test(r.value?.text ?? ""));
  if (containerResources.length !== 1 || loops.length !== 1) {
    problems.push(`${INFRA_FILES.cosmos}: expected one container resource looping over the \`containers\` parameter`);
  } else {
    const item = /\bfor\s+(\w+)\s+in/.exec(loops[0]!.value!.text)![1]!;
    const resource = (get(bodyOf(loops[0]!.value), "properties.resource")?.text ?? "").replace(/\s+/g, "");
    if (!resource.includes(`paths:[${item}.partitionKeyPath]`) || !resource.includes(`id:${item}.name`)) {
      problems.push(`${INFRA_FILES.cosmos}: the container resource must take its id and partition key path from each \`containers\` item`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------- app settings

export interface BicepSetting {
  key: string;
  value: BicepValue;
  line: number;
}

/** Every key of the `appSettings` var of main.bicep, conditional branches included. */
export function bicepSettings(main: string): BicepSetting[] {
  const value = requireDeclaration(parseBicep(main), "var", "appSettings", INFRA_FILES.main).value;
  return allEntries(value).map((e) => ({ key: e.key, value: e.value, line: e.line }));
}

export function checkRequiredSettings(main: string): string[] {
  const keys = new Set(bicepSettings(main).map((s) => s.key));
  return requiredConfigKeys()
    .filter((key) => !keys.has(key))
    .map((key) => `"${key}" is required by shared/config/config.ts (no default) but not set in appSettings of ${INFRA_FILES.main}`);
}

export function checkUnknownSettings(main: string): string[] {
  const known = new Set(CONFIG_KEYS);
  return bicepSettings(main)
    .filter((s) => !known.has(s.key) && !isHostOwned(s.key))
    .map((s) => {
      const flex = (FLEX_UNSUPPORTED_SETTINGS as readonly string[]).includes(s.key) ? "; Flex Consumption does not support it either" : "";
      return `"${s.key}" (${INFRA_FILES.main} line ${s.line}) is neither a key of the config schema nor on the host-owned allow-list${flex}`;
    });
}

export function checkLocalOnlySettings(main: string): string[] {
  const problems: string[] = [];
  for (const s of bicepSettings(main)) {
    if ((LOCAL_ONLY_SETTINGS as readonly string[]).includes(s.key)) {
      problems.push(`"${s.key}" (${INFRA_FILES.main} line ${s.line}) is local-only and must not be set in Azure`);
    }
    if (s.key === "APP_ENV" && !(s.value.kind === "string" && !s.value.interpolated && s.value.value === "azure")) {
      problems.push(`APP_ENV (${INFRA_FILES.main} line ${s.line}) must be the literal 'azure', found ${s.value.text}`);
    }
  }
  return problems;
}

export function checkFlexUnsupportedSettings(main: string): string[] {
  return bicepSettings(main)
    .filter((s) => (FLEX_UNSUPPORTED_SETTINGS as readonly string[]).includes(s.key))
    .map((s) => `"${s.key}" (${INFRA_FILES.main} line ${s.line}) is not supported on Flex Consumption`);
}

/** The worker's Node.js flags are the same in Azure (main.bicep) and locally (local.settings.sample.json). */
export function checkWorkerArguments(main: string, sampleSettings: string): string[] {
  const problems: string[] = [];
  const setting = bicepSettings(main).find((s) => s.key === WORKER_ARGUMENTS_SETTING);
  const inAzure = setting?.value?.kind === "string" ? setting.value.value : undefined;
  if (inAzure !== WORKER_NODE_ARGUMENTS) {
    problems.push(`${INFRA_FILES.main}: ${WORKER_ARGUMENTS_SETTING} is ${JSON.stringify(inAzure)}, not "${WORKER_NODE_ARGUMENTS}" (local/worker-arguments.ts)`);
  }
  const local = (JSON.parse(sampleSettings) as { Values: Record<string, string> }).Values[WORKER_ARGUMENTS_SETTING];
  if (local !== WORKER_NODE_ARGUMENTS) {
    problems.push(`local.settings.sample.json: ${WORKER_ARGUMENTS_SETTING} is ${JSON.stringify(local)}, not "${WORKER_NODE_ARGUMENTS}" (local/worker-arguments.ts)`);
  }
  return problems;
}

/** main.bicep hands `appSettings` to the function app module, which applies it as it is. */
export function checkSettingsWiring(sources: Pick<InfraSources, "main" | "functionApp">): string[] {
  const problems: string[] = [];
  const module = requireDeclaration(parseBicep(sources.main), "module", "functionApp", INFRA_FILES.main);
  if (identifierOf(get(bodyOf(module.value), "params.appSettings")) !== "appSettings") {
    problems.push(`${INFRA_FILES.main}: module functionApp must receive \`appSettings: appSettings\``);
  }
  const decls = parseBicep(sources.functionApp);
  const configs = resourcesOfType(decls, "Microsoft.Web/sites/config").filter((r) => {
    const name = get(bodyOf(r.value), "name");
    return name?.kind === "string" && name.value === "appsettings";
  });
  if (configs.length !== 1 || identifierOf(get(bodyOf(configs[0]!.value), "properties")) !== "appSettings") {
    problems.push(`${INFRA_FILES.functionApp}: one sites/config 'appsettings' resource must apply \`properties: appSettings\` unchanged`);
  }
  for (const site of resourcesOfType(decls, "Microsoft.Web/sites")) {
    if (get(bodyOf(site.value), "properties.siteConfig.appSettings")) {
      problems.push(`${INFRA_FILES.functionApp}: siteConfig.appSettings would set settings outside main.bicep's appSettings`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------- evaluation per scenario

export interface Scenario {
  name: string;
  /** Values of main.bicep parameters; the others take their declared defaults. */
  params: Record<string, string | boolean>;
}

interface EvalContext {
  decls: readonly Declaration[];
  params: Record<string, string | boolean>;
}

type SettingValue = { literal: string } | { runtime: BicepValue };

class CannotEvaluate extends Error {}

function asValue(item: Token | BicepValue): BicepValue {
  if (!isToken(item)) return item;
  if (item.kind === "string") return { kind: "string", value: item.value!, interpolated: item.interpolated!, text: item.text };
  return { kind: "expression", items: [item], text: item.text };
}

function variable(name: string, ctx: EvalContext): BicepValue | undefined {
  return declaration(ctx.decls, "var", name)?.value;
}

function scalar(value: BicepValue, ctx: EvalContext): string | boolean {
  if (value.kind === "string" && !value.interpolated) return value.value;
  const id = identifierOf(value);
  if (id === "true" || id === "false") return id === "true";
  if (id && id in ctx.params) return ctx.params[id]!;
  const v = id ? variable(id, ctx) : undefined;
  if (v) return scalar(v, ctx);
  throw new CannotEvaluate(`cannot evaluate ${value.text}`);
}

function truth(value: BicepValue, ctx: EvalContext): boolean {
  if (value.kind === "call" && value.name === "empty" && value.args.length === 1) return scalar(value.args[0]!, ctx) === "";
  if (value.kind === "call" && value.name === "" && value.args.length === 1) return truth(value.args[0]!, ctx);
  if (value.kind === "expression") {
    const items = value.items;
    const first = items[0];
    if (first && isToken(first) && first.text === "!" && items.length > 1) {
      return !truth(items.length === 2 ? asValue(items[1]!) : { kind: "expression", items: items.slice(1), text: "" }, ctx);
    }
    const op = items[1];
    if (items.length === 3 && op && isToken(op) && (op.text === "==" || op.text === "!=")) {
      const equal = scalar(asValue(items[0]!), ctx) === scalar(asValue(items[2]!), ctx);
      return op.text === "==" ? equal : !equal;
    }
  }
  const id = identifierOf(value);
  const v = id && !(id in ctx.params) ? variable(id, ctx) : undefined;
  if (v) return truth(v, ctx);
  const result = scalar(value, ctx);
  if (typeof result !== "boolean") throw new CannotEvaluate(`condition ${value.text} is not a boolean`);
  return result;
}

function leaf(value: BicepValue, ctx: EvalContext): SettingValue {
  if (value.kind === "string" && !value.interpolated) return { literal: value.value };
  if (value.kind === "conditional") return leaf(truth(value.condition, ctx) ? value.whenTrue : value.whenFalse, ctx);
  const id = identifierOf(value);
  if (id && id in ctx.params) return { literal: String(ctx.params[id]) };
  const v = id ? variable(id, ctx) : undefined;
  if (v) return leaf(v, ctx);
  return { runtime: value };
}

function evaluateObject(value: BicepValue, ctx: EvalContext): Map<string, SettingValue> {
  switch (value.kind) {
    case "object":
      return new Map(value.entries.map((e) => [e.key, leaf(e.value, ctx)]));
    case "call":
      if (value.name === "union") {
        return new Map(value.args.flatMap((arg) => [...evaluateObject(arg, ctx)]));
      }
      break;
    case "conditional":
      return evaluateObject(truth(value.condition, ctx) ? value.whenTrue : value.whenFalse, ctx);
    case "expression": {
      const id = identifierOf(value);
      const v = id ? variable(id, ctx) : undefined;
      if (v) return evaluateObject(v, ctx);
      break;
    }
    default:
      break;
  }
  throw new CannotEvaluate(`cannot evaluate ${value.text} to an object`);
}

const SAMPLES = ["https://sample.invalid", "00000000-0000-4000-8000-000000000000", "sample"];

/**
 * The settings main.bicep gives the app in a scenario: literals as written, and for values only
 * known at deployment (resource endpoints, ids) a sample the key's schema accepts.
 */
export function settingsForScenario(main: string, scenario: Scenario): { env: Record<string, string>; problems: string[] } {
  const decls = parseBicep(main);
  const params: Record<string, string | boolean> = {};
  for (const d of decls) {
    if (d.keyword !== "param" || !d.value) continue;
    try {
      params[d.name] = scalar(d.value, { decls, params: {} });
    } catch {
      // a default computed at deployment: the scenario must name it if a setting depends on it
    }
  }
  const ctx: EvalContext = { decls, params: { ...params, ...scenario.params } };
  const problems: string[] = [];
  const env: Record<string, string> = {};
  let settings: Map<string, SettingValue>;
  try {
    settings = evaluateObject(requireDeclaration(decls, "var", "appSettings", INFRA_FILES.main).value, ctx);
  } catch (err) {
    if (!(err instanceof CannotEvaluate)) throw err;
    return { env, problems: [`${scenario.name}: ${err.message} (extend the evaluator in test/unit/infra/infra-checks.ts)`] };
  }
  for (const [key, setting] of settings) {
    if ("literal" in setting) {
      env[key] = setting.literal;
      continue;
    }
    const schema = shape[key];
    const candidates = [...stringLiterals(setting.runtime), ...SAMPLES];
    const sample = schema ? candidates.find((c) => c !== "" && schema.safeParse(c).success) : "sample";
    if (sample === undefined) problems.push(`${scenario.name}: no sample value for ${key} (${setting.runtime.text}) that the config schema accepts`);
    else env[key] = sample;
  }
  return { env, problems };
}

/** The settings of a scenario, as Azure starts the app with them (WEBSITE_SITE_NAME set), pass the config schema. */
export function checkScenario(main: string, scenario: Scenario): string[] {
  const { env, problems } = settingsForScenario(main, scenario);
  if (problems.length > 0) return problems;
  try {
    parseConfig({ ...env, WEBSITE_SITE_NAME: "func-sample", WEBSITE_INSTANCE_ID: "sample-instance" });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => `${scenario.name}: ${p.key}: ${p.expected}`);
  }
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: "Service Bus transport, managed identity (the defaults)",
    params: { authAudiences: "api://license-control-plane,11111111-1111-4111-8111-111111111111" },
  },
  {
    name: "Storage queue transport, multi-tenant app registration",
    params: {
      authAudiences: "api://license-control-plane",
      eventQueueTransport: "storage",
      msApiClientId: "22222222-2222-4222-8222-222222222222",
    },
  },
];

// ---------------------------------------------------------------- queues and posture

function literalOf(value: BicepValue | undefined, vars: (name: string) => string | undefined): string | undefined {
  if (value?.kind === "string") {
    return value.value.replace(/\$\{\s*(\w+)\s*\}/g, (_, name: string) => vars(name) ?? `\${${name}}`);
  }
  const id = identifierOf(value);
  return id ? vars(id) : undefined;
}

export function checkQueues(main: string): string[] {
  const problems: string[] = [];
  const decls = parseBicep(main);
  const vars = (name: string): string | undefined => {
    const v = declaration(decls, "var", name)?.value;
    return v?.kind === "string" && !v.interpolated ? v.value : undefined;
  };
  if (vars("eventsQueueName") !== EVENTS_QUEUE) {
    problems.push(`${INFRA_FILES.main}: var eventsQueueName must be '${EVENTS_QUEUE}' (shared/events/queues.ts EVENTS_QUEUE)`);
  }
  const storageQueues = get(bodyOf(requireDeclaration(decls, "module", "storage", INFRA_FILES.main).value), "params.queueNames");
  const names = storageQueues?.kind === "array" ? storageQueues.items.map((i) => literalOf(i, vars)) : [];
  for (const expected of [EVENTS_QUEUE, `${EVENTS_QUEUE}-poison`]) {
    if (!names.includes(expected)) problems.push(`${INFRA_FILES.main}: the storage module's queueNames must include '${expected}'`);
  }
  const sbQueue = literalOf(get(bodyOf(requireDeclaration(decls, "module", "serviceBus", INFRA_FILES.main).value), "params.queueName"), vars);
  if (sbQueue !== EVENTS_QUEUE) problems.push(`${INFRA_FILES.main}: the serviceBus module's queueName must be '${EVENTS_QUEUE}'`);
  return problems;
}

/** Security and platform properties that must hold (each a fact from ../shared/spec or the issue). */
export const POSTURE: readonly { file: keyof InfraSources; type: string; path: string; expected: string | boolean; why: string }[] = [
  { file: "storage", type: "Microsoft.Storage/storageAccounts", path: "properties.allowSharedKeyAccess", expected: false, why: "identity-based access only" },
  { file: "cosmos", type: "Microsoft.DocumentDB/databaseAccounts", path: "properties.disableLocalAuth", expected: true, why: "no account keys; data-plane RBAC" },
  { file: "serviceBus", type: "Microsoft.ServiceBus/namespaces", path: "properties.disableLocalAuth", expected: true, why: "no SAS keys" },
  { file: "serviceBus", type: "Microsoft.ServiceBus/namespaces", path: "sku.name", expected: "Standard", why: "duplicate detection needs Standard or Premium" },
  { file: "serviceBus", type: "Microsoft.ServiceBus/namespaces/queues", path: "properties.requiresDuplicateDetection", expected: true, why: "only settable when the queue is created" },
  { file: "serviceBus", type: "Microsoft.ServiceBus/namespaces/queues", path: "properties.deadLetteringOnMessageExpiration", expected: true, why: "expired events are kept, not lost" },
  { file: "monitoring", type: "Microsoft.Insights/components", path: "properties.DisableLocalAuth", expected: true, why: "telemetry with Entra ID only" },
  { file: "functionApp", type: "Microsoft.Web/serverfarms", path: "sku.name", expected: "FC1", why: "Flex Consumption" },
  { file: "functionApp", type: "Microsoft.Web/sites", path: "properties.functionAppConfig.runtime.name", expected: "node", why: "Node.js worker" },
  { file: "functionApp", type: "Microsoft.Web/sites", path: "properties.functionAppConfig.runtime.version", expected: "22", why: "Node 20 support has ended in Azure Functions" },
];

export function checkPosture(sources: InfraSources): string[] {
  const problems: string[] = [];
  for (const rule of POSTURE) {
    const resources = resourcesOfType(parseBicep(sources[rule.file]), rule.type);
    if (resources.length === 0) {
      problems.push(`${INFRA_FILES[rule.file]}: no ${rule.type} resource`);
      continue;
    }
    for (const r of resources) {
      const value = get(bodyOf(r.value), rule.path);
      let actual: string | boolean | undefined;
      try {
        actual = value ? scalar(value, { decls: [], params: {} }) : undefined;
      } catch {
        actual = undefined;
      }
      if (actual !== rule.expected) {
        problems.push(`${INFRA_FILES[rule.file]} ${r.name}: ${rule.path} must be ${JSON.stringify(rule.expected)} (${rule.why}), found ${value?.text ?? "nothing"}`);
      }
    }
  }
  return problems;
}
