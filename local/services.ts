import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { get as httpsGet } from "node:https";
import path from "node:path";
import { mkdirSync } from "node:fs";
import { repoRoot } from "./paths.js";

/** A local service running as its own process (its own process group, so stopping it stops its children). */
export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export class PortInUseError extends Error {
  constructor(readonly port: number, readonly service: string) {
    super(`Port ${port} (${service}) is already in use. Stop whatever listens on it, or choose another port (see README, "Ports").`);
  }
}

/** A port the OS reports free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export async function assertPortFree(port: number, service: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const srv = createServer();
    srv.once("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "EADDRINUSE" || err.code === "EACCES" ? new PortInUseError(port, service) : err));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve()));
  });
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolves once the service answers; polled until `timeoutMs`. */
  ready: () => Promise<boolean>;
  timeoutMs?: number;
  /** Forward the child's output, prefixed with its name. */
  echo?: boolean;
}

export async function spawnService(opts: SpawnOptions): Promise<ManagedProcess> {
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
    if (opts.echo) for (const line of chunk.toString().split("\n")) if (line.trim()) process.stdout.write(`[${opts.name}] ${line}\n`);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let hasExited = false;
  void exited.then(() => (hasExited = true));

  const managed: ManagedProcess = {
    name: opts.name,
    child,
    async stop() {
      if (hasExited || child.pid === undefined) return;
      killGroup(child.pid, "SIGTERM");
      const timer = setTimeout(() => child.pid !== undefined && killGroup(child.pid, "SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };

  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (hasExited) throw new Error(`${opts.name} exited before it was ready:\n${output}`);
    if (await opts.ready().catch(() => false)) return managed;
    await new Promise((r) => setTimeout(r, 100));
  }
  await managed.stop();
  throw new Error(`${opts.name} was not ready within ${opts.timeoutMs ?? 60_000} ms:\n${output}`);
}

function killGroup(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** True when anything answers HTTPS at `url` with a certificate issued by `ca` (PEM), whatever this process trusts. */
export function answersHttps(url: string, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpsGet(url, { ca, timeout: 2000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
  });
}

/** True when anything answers HTTP at `url` (any status). */
export async function answersHttp(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

export const AZURITE_ACCOUNT = "devstoreaccount1";
/** Azurite's well-known development key (public, documented by Microsoft; not a secret). */
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export function azuriteConnectionString(ports: { blob: number; queue: number; table: number }): string {
  return [
    "DefaultEndpointsProtocol=http",
    `AccountName=${AZURITE_ACCOUNT}`,
    `AccountKey=${AZURITE_KEY}`,
    `BlobEndpoint=http://127.0.0.1:${ports.blob}/${AZURITE_ACCOUNT}`,
    `QueueEndpoint=http://127.0.0.1:${ports.queue}/${AZURITE_ACCOUNT}`,
    `TableEndpoint=http://127.0.0.1:${ports.table}/${AZURITE_ACCOUNT}`,
  ].join(";");
}

export interface AzuriteOptions {
  ports: { blob: number; queue: number; table: number };
  /** Folder for its data; in-memory when omitted. */
  location?: string;
  echo?: boolean;
}

export async function startAzurite(opts: AzuriteOptions): Promise<ManagedProcess & { connectionString: string }> {
  // local/azurite.cjs: Azurite with its per-request cost kept flat as queues fill (see azurite-patches.cjs).
  const entry = path.join(repoRoot, "local", "azurite.cjs");
  const args = [entry, "--silent", "--disableTelemetry", "--skipApiVersionCheck", "--loose",
    // Idle connections stay open longer than clients keep them (5 s by default: a client reusing one as it closes gets ECONNRESET).
    "--queueKeepAliveTimeout", "120", "--blobKeepAliveTimeout", "120", "--tableKeepAliveTimeout", "120",
    "--blobHost", "127.0.0.1", "--blobPort", String(opts.ports.blob),
    "--queueHost", "127.0.0.1", "--queuePort", String(opts.ports.queue),
    "--tableHost", "127.0.0.1", "--tablePort", String(opts.ports.table)];
  if (opts.location) {
    mkdirSync(opts.location, { recursive: true });
    args.push("--location", opts.location);
  } else {
    args.push("--inMemoryPersistence");
  }
  const proc = await spawnService({
    name: "azurite",
    command: process.execPath,
    args,
    echo: opts.echo,
    ready: () => answersHttp(`http://127.0.0.1:${opts.ports.queue}/${AZURITE_ACCOUNT}?comp=list`),
  });
  return Object.assign(proc, { connectionString: azuriteConnectionString(opts.ports) });
}

/** The well-known Cosmos DB emulator key; @vercel/cosmosdb-server accepts any key. Not a secret. */
export const COSMOS_EMULATOR_KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

export async function startCosmosServer(opts: { port: number; echo?: boolean }): Promise<ManagedProcess & { endpoint: string }> {
  const endpoint = `http://127.0.0.1:${opts.port}`;
  // local/cosmos-server.cjs: the server with keep-alive and point-evaluated conditional patches, as Azure behaves.
  const proc = await spawnService({
    name: "cosmos",
    command: process.execPath,
    args: [path.join(repoRoot, "local", "cosmos-server.cjs"), String(opts.port)],
    echo: opts.echo,
    ready: () => answersHttp(`${endpoint}/`),
  });
  return Object.assign(proc, { endpoint });
}
