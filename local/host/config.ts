/**
 * host.json and local.settings.json, read the way the Functions host and Core Tools read them:
 * JSON with comments, keys matched case-insensitively (.NET configuration), durations as .NET
 * TimeSpan strings.
 */
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";

export class HostConfigError extends Error {
  override name = "HostConfigError";
}

/** JSON with `//` and `/* *\/` comments (Newtonsoft, which the host uses, accepts them). */
export function parseJsonWithComments(text: string, what: string): unknown {
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const next = text[i + 1];
    if (inString) {
      out += ch;
      if (ch === "\\") {
        out += next ?? "";
        i++;
      } else if (ch === '"') {
        inString = false;
      }
    } else if (ch === '"') {
      inString = true;
      out += ch;
    } else if (ch === "/" && next === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      out += "\n";
    } else if (ch === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end < 0 ? text.length : end + 1;
      out += " ";
    } else {
      out += ch;
    }
  }
  try {
    return JSON.parse(out.replace(/^\uFEFF/, "")) as unknown;
  } catch (err) {
    throw new HostConfigError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Case-insensitive property read, as .NET configuration binds keys. */
export function getCI(obj: unknown, key: string): unknown {
  if (!isObject(obj)) return undefined;
  const lower = key.toLowerCase();
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/**
 * .NET `TimeSpan.Parse` (invariant culture): `[-]d`, `[-][d.]hh:mm[:ss[.fffffff]]`.
 * A bare number is a number of DAYS, exactly as the host reads `"maxPollingInterval": 2000`
 * (a classic misconfiguration). Returns milliseconds.
 */
export function parseTimeSpan(value: string | number, what = "value"): number {
  const text = String(value).trim();
  const days = /^(-)?(\d+)$/.exec(text);
  if (days) return (days[1] ? -1 : 1) * Number(days[2]) * 86_400_000;
  const m = /^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$/.exec(text);
  if (!m) throw new HostConfigError(`${what}: '${text}' is not a valid TimeSpan (expected [d.]hh:mm[:ss[.fff]])`);
  const [, neg, d, h, min, s, frac] = m;
  const hours = Number(h);
  const minutes = Number(min);
  const seconds = s === undefined ? 0 : Number(s);
  if (hours > 23 || minutes > 59 || seconds > 59) throw new HostConfigError(`${what}: '${text}' is out of range for a TimeSpan`);
  const ms = frac === undefined ? 0 : Number(`0.${frac}`) * 1000;
  const total = ((Number(d ?? 0) * 24 + hours) * 60 + minutes) * 60_000 + seconds * 1000 + ms;
  return neg ? -total : total;
}

export interface QueuesOptions {
  batchSize: number;
  newBatchThreshold: number;
  maxPollingIntervalMs: number;
  visibilityTimeoutMs: number;
  maxDequeueCount: number;
  messageEncoding: "base64" | "none";
}

export interface HostJson {
  version: string;
  routePrefix: string;
  queues: QueuesOptions;
  /** host.json `functions`: when present, only these functions run. */
  functions?: string[];
  /** Milliseconds; parsed for reference, not enforced by the local host. */
  functionTimeoutMs?: number;
}

function numberOption(raw: unknown, what: string, min: number, max: number, fallback: number): number {
  if (raw === undefined || raw === null) return fallback;
  const n = typeof raw === "string" ? Number(raw) : raw;
  if (typeof n !== "number" || !Number.isInteger(n)) throw new HostConfigError(`${what} must be an integer`);
  if (n < min || n > max) throw new HostConfigError(`${what} must be between ${min} and ${max}`);
  return n;
}

function durationOption(raw: unknown, what: string, fallbackMs: number): number {
  if (raw === undefined || raw === null) return fallbackMs;
  if (typeof raw !== "string" && typeof raw !== "number") throw new HostConfigError(`${what} must be a TimeSpan string`);
  return parseTimeSpan(raw, what);
}

/** Parses host.json contents (already JSON-parsed) with the host's defaults. */
export function parseHostJson(json: unknown): HostJson {
  if (!isObject(json)) throw new HostConfigError("host.json must contain a JSON object");
  const version = getCI(json, "version");
  if (version !== "2.0") {
    throw new HostConfigError(`host.json: "version" must be "2.0" (found ${version === undefined ? "none" : JSON.stringify(version)})`);
  }
  const extensions = getCI(json, "extensions");
  const http = getCI(extensions, "http");
  const prefixRaw = getCI(http, "routePrefix");
  if (prefixRaw !== undefined && typeof prefixRaw !== "string") throw new HostConfigError("extensions.http.routePrefix must be a string");
  const routePrefix = (prefixRaw ?? "api").replace(/^\/+|\/+$/g, "");

  const q = getCI(extensions, "queues");
  const batchSize = numberOption(getCI(q, "batchSize"), "extensions.queues.batchSize", 1, 32, 16);
  const newBatchThreshold = numberOption(
    getCI(q, "newBatchThreshold"), "extensions.queues.newBatchThreshold", 0, Number.MAX_SAFE_INTEGER,
    // Documented default N*batchSize/2 with N = 1 on Consumption / Flex (the target plan).
    Math.floor(batchSize / 2),
  );
  const maxPollingIntervalMs = durationOption(getCI(q, "maxPollingInterval"), "extensions.queues.maxPollingInterval", 60_000);
  if (maxPollingIntervalMs < 100) throw new HostConfigError("extensions.queues.maxPollingInterval must not be less than 00:00:00.100");
  const visibilityTimeoutMs = durationOption(getCI(q, "visibilityTimeout"), "extensions.queues.visibilityTimeout", 0);
  if (visibilityTimeoutMs < 0 || visibilityTimeoutMs > 7 * 86_400_000) throw new HostConfigError("extensions.queues.visibilityTimeout must be between 0 and 7 days");
  const maxDequeueCount = numberOption(getCI(q, "maxDequeueCount"), "extensions.queues.maxDequeueCount", 1, Number.MAX_SAFE_INTEGER, 5);
  const encodingRaw = getCI(q, "messageEncoding") ?? "base64";
  const encoding = typeof encodingRaw === "string" ? encodingRaw.toLowerCase() : "";
  if (encoding !== "base64" && encoding !== "none") throw new HostConfigError(`extensions.queues.messageEncoding must be "base64" or "none"`);

  const functionsRaw = getCI(json, "functions");
  if (functionsRaw !== undefined && (!Array.isArray(functionsRaw) || functionsRaw.some((f) => typeof f !== "string"))) {
    throw new HostConfigError("host.json: \"functions\" must be an array of function names");
  }
  const timeoutRaw = getCI(json, "functionTimeout");
  const result: HostJson = {
    version,
    routePrefix,
    queues: { batchSize, newBatchThreshold, maxPollingIntervalMs, visibilityTimeoutMs, maxDequeueCount, messageEncoding: encoding },
  };
  if (functionsRaw !== undefined) result.functions = functionsRaw as string[];
  if (typeof timeoutRaw === "string" || typeof timeoutRaw === "number") result.functionTimeoutMs = parseTimeSpan(timeoutRaw, "functionTimeout");
  return result;
}

export function loadHostJson(hostJsonPath: string): HostJson {
  if (!existsSync(hostJsonPath)) throw new HostConfigError(`host.json not found at ${hostJsonPath}`);
  return parseHostJson(parseJsonWithComments(readFileSync(hostJsonPath, "utf8"), hostJsonPath));
}

export interface LocalSettings {
  /** Names of the variables taken from `Values` (those not already set). */
  applied: string[];
  /** Names present in `Values` but left alone because the environment already had them. */
  skipped: string[];
  localHttpPort?: number;
  cors?: string[];
  corsCredentials?: boolean;
}

/**
 * Reads `<dir>/local.settings.json` like `func start`: every `Values` entry becomes an environment
 * variable unless one of that name is already set. A missing file is not an error.
 */
export function loadLocalSettings(dir: string, env: NodeJS.ProcessEnv = process.env): LocalSettings {
  const file = path.join(dir, "local.settings.json");
  const result: LocalSettings = { applied: [], skipped: [] };
  if (!existsSync(file)) return result;
  const json = parseJsonWithComments(readFileSync(file, "utf8"), file);
  if (!isObject(json)) throw new HostConfigError(`${file} must contain a JSON object`);
  if (getCI(json, "IsEncrypted") === true) {
    throw new HostConfigError(`${file} is encrypted (IsEncrypted: true); the local host reads plain settings only`);
  }
  const values = getCI(json, "Values") ?? {};
  if (!isObject(values)) throw new HostConfigError(`${file}: "Values" must be an object of strings`);
  for (const [name, value] of Object.entries(values)) {
    if (value !== null && typeof value === "object") {
      throw new HostConfigError(`${file}: Values.${name} must be a string (objects and arrays are not app settings)`);
    }
    if (env[name] !== undefined) {
      result.skipped.push(name);
      continue;
    }
    env[name] = value === null ? "" : typeof value === "string" ? value : JSON.stringify(value);
    result.applied.push(name);
  }
  const host = getCI(json, "Host");
  const port = getCI(host, "LocalHttpPort");
  if (port !== undefined) {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new HostConfigError(`${file}: Host.LocalHttpPort must be a port number`);
    result.localHttpPort = n;
  }
  const cors = getCI(host, "CORS");
  if (typeof cors === "string" && cors.trim()) result.cors = cors.split(",").map((o) => o.trim()).filter(Boolean);
  if (getCI(host, "CORSCredentials") === true) result.corsCredentials = true;
  return result;
}

/**
 * Resolves `%SettingName%` placeholders from app settings (environment variables), as the host
 * does for binding properties such as `schedule` and `queueName`.
 */
export function resolveSettingPlaceholders(value: string, env: NodeJS.ProcessEnv = process.env): string {
  return value.replace(/%([^%]+)%/g, (_all, name: string) => {
    const resolved = env[name];
    if (resolved === undefined) throw new HostConfigError(`'%${name}%' does not resolve to a value (no app setting named '${name}')`);
    return resolved;
  });
}
