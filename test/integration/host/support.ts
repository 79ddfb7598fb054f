/** Helpers for the local Functions host's integration tests. */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const fixtureDir = path.join(repoRoot, "test/fixtures/host-app");

/** Polls `probe` until it returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${lastError instanceof Error ? ` (last error: ${lastError.message})` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface HostProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  return env;
}

/** Runs `local/host/main.ts` under tsx with `args`, resolving once it prints FUNCTIONS_HOST_READY. */
export async function startHostProcess(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<HostProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "local/host/main.ts", ...args], {
    cwd: repoRoot,
    env: childEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let hasExited = false;
  void exited.then(() => (hasExited = true));

  const url = await waitFor(
    "FUNCTIONS_HOST_READY",
    () => {
      if (hasExited) throw new Error(`the host exited before it was ready:\n${output}`);
      return /FUNCTIONS_HOST_READY (\S+)/.exec(output)?.[1];
    },
    timeoutMs,
  ).catch(async (err: unknown) => {
    child.kill("SIGKILL");
    await exited;
    throw err;
  });

  return {
    child,
    url,
    output: () => output,
    async stop() {
      if (!hasExited) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Runs main.ts to completion (for apps that fail to start). */
export async function runHostToExit(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "local/host/main.ts", ...args], {
    cwd: repoRoot,
    env: childEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  clearTimeout(timer);
  return { code, output };
}

export interface FixtureRecord {
  fn: string;
  at: string;
  endedAt?: string;
  input?: unknown;
  triggerMetadata?: Record<string, unknown>;
  invocationId: string;
}

export async function records(baseUrl: string, fn?: string): Promise<FixtureRecord[]> {
  const res = await fetch(`${baseUrl}/api/_records`);
  const all = (await res.json()) as FixtureRecord[];
  return fn ? all.filter((r) => r.fn === fn) : all;
}
