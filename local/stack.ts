import path from "node:path";
import { existsSync, readFileSync } from "node:fs";
import { ensureLocalTls } from "./tls.js";
import { ensureDevSigningKey } from "./dev-identity.js";
import { repoRoot } from "./paths.js";
import { WORKER_ARGUMENTS_SETTING, WORKER_NODE_ARGUMENTS, workerNodeArguments } from "./worker-arguments.js";
import {
  answersHttp, answersHttps, assertPortFree, azuriteConnectionString, COSMOS_EMULATOR_KEY, spawnService, startAzurite, startCosmosServer,
  type ManagedProcess,
} from "./services.js";

export interface StackPorts {
  blob: number;
  queue: number;
  table: number;
  cosmos: number;
  simCloud: number;
  host: number;
}

export const DEFAULT_PORTS: StackPorts = { blob: 10000, queue: 10001, table: 10002, cosmos: 8081, simCloud: 8443, host: 7071 };

export interface StackOptions {
  ports: StackPorts;
  /** "dist": compiled JavaScript (npm start); "ts": TypeScript through tsx (tests). */
  mode: "dist" | "ts";
  /** Azurite data folder; in-memory when omitted. */
  azuriteLocation?: string;
  /** Extra settings for the app (override the generated ones). */
  appSettings?: Record<string, string>;
  /** Extra environment for the simulated cloud (SIM_CLOUD_LATENCY_MS, ...). */
  simCloudEnv?: Record<string, string>;
  /** Start the Functions host too (false: only the services, e.g. for `func start`). */
  withHost?: boolean;
  echo?: boolean;
}

export interface LocalStack {
  ports: StackPorts;
  hostUrl: string;
  simCloudUrl: string;
  cosmosEndpoint: string;
  storageConnectionString: string;
  /** The settings the app runs with. */
  appSettings: Record<string, string>;
  caPath: string;
  /** Each service's process, by name (tests stop one to see a dependency fail). */
  processes: Record<string, ManagedProcess>;
  stop: () => Promise<void>;
  /**
   * Replaces the Functions host with a new one on the same port (same settings). With "crash" the
   * old host is killed at once (SIGKILL: no graceful shutdown, its queue messages stay invisible),
   * as a worker that dies mid-run; otherwise it is stopped as usual.
   */
  restartHost: (how?: "crash" | "stop") => Promise<void>;
}

/** The app registration (audience) of the Entra custom authentication extension, locally. */
export const LOCAL_ENTRA_EXTENSION_AUDIENCE = "api://license-control-plane/entra-extension";

/** Settings the app gets when it runs against a local stack on these ports. */
export function localAppSettings(ports: StackPorts): Record<string, string> {
  const storage = azuriteConnectionString(ports);
  return {
    FUNCTIONS_WORKER_RUNTIME: "node",
    AzureWebJobsStorage: storage,
    APP_ENV: "local",
    COSMOS_ENDPOINT: `http://127.0.0.1:${ports.cosmos}`,
    COSMOS_KEY: COSMOS_EMULATOR_KEY,
    COSMOS_DATABASE: "licensing",
    COSMOS_BOOTSTRAP: "true",
    ENTRA_AUTHORITY_HOST: `https://127.0.0.1:${ports.simCloud}/login`,
    AUTH_AUDIENCES: "api://license-control-plane",
    GRAPH_BASE_URL: `https://127.0.0.1:${ports.simCloud}/graph`,
    POWER_PLATFORM_API_URL: `https://127.0.0.1:${ports.simCloud}/bap`,
    MS_API_AUTH: "client-secret",
    MS_API_CLIENT_ID: "8f6e3c1a-2b4d-4e5f-9a0b-1c2d3e4f5a6b",
    MS_API_CLIENT_SECRET: "local-simulated-cloud-accepts-any-secret",
    EVENT_QUEUE_TRANSPORT: "storage",
    EventQueueStorage: storage,
    // E1: the audience of the tokens the (simulated) Entra custom authentication extension sends.
    ENTRA_EXTENSION_AUDIENCES: LOCAL_ENTRA_EXTENSION_AUDIENCE,
    // The worker's Node.js flags, as in Azure (local/worker-arguments.ts).
    [WORKER_ARGUMENTS_SETTING]: WORKER_NODE_ARGUMENTS,
  };
}

/** How to run one of the project's programs: compiled (dist) or from TypeScript through tsx. */
export function serviceEntry(mode: "dist" | "ts", relative: string): { command: string; args: string[] } {
  if (mode === "dist") return { command: process.execPath, args: [path.join(repoRoot, "dist", `${relative}.js`)] };
  return { command: process.execPath, args: ["--import", "tsx", path.join(repoRoot, `${relative}.ts`)] };
}

/**
 * Starts Azurite, the Cosmos DB-compatible server, the simulated Microsoft cloud and (optionally)
 * the local Functions host, each as its own process; stop() stops all of them.
 */
export async function startLocalStack(opts: StackOptions): Promise<LocalStack> {
  const { ports } = opts;
  const names: [number, string][] = [
    [ports.blob, "Azurite blob"], [ports.queue, "Azurite queue"], [ports.table, "Azurite table"],
    [ports.cosmos, "Cosmos DB-compatible server"], [ports.simCloud, "simulated Microsoft cloud"],
  ];
  if (opts.withHost !== false) names.push([ports.host, "Functions host"]);
  for (const [port, name] of names) await assertPortFree(port, name);

  const tls = ensureLocalTls();
  await ensureDevSigningKey();
  const started: ManagedProcess[] = [];
  /** The stack's processes by name; a caller may put a replacement in (a test restarting Azurite). */
  const processes: Record<string, ManagedProcess> = {};
  const stop = async () => {
    // Last started first, then any replacement put into `processes` (stop() is a no-op once exited).
    for (const p of new Set([...[...started].reverse(), ...Object.values(processes)])) await p.stop();
  };
  try {
    const childEnv = { ...process.env, NODE_EXTRA_CA_CERTS: tls.caPath };
    // Both at once, but each one that started is stopped if the other fails (Promise.all would
    // reject at the first failure and leave the other running, an orphan holding its port).
    const [azuriteStart, cosmosStart] = await Promise.allSettled([
      startAzurite({ ports, location: opts.azuriteLocation, echo: opts.echo }),
      startCosmosServer({ port: ports.cosmos, echo: opts.echo }),
    ]);
    for (const s of [azuriteStart, cosmosStart]) if (s.status === "fulfilled") started.push(s.value);
    if (azuriteStart.status === "rejected") throw azuriteStart.reason;
    if (cosmosStart.status === "rejected") throw cosmosStart.reason;
    const [azurite, cosmos] = [azuriteStart.value, cosmosStart.value];
    const simUrl = `https://127.0.0.1:${ports.simCloud}`;
    const sim = serviceEntry(opts.mode, "local/sim-cloud/main");
    started.push(
      await spawnService({
        name: "sim-cloud",
        command: sim.command,
        args: [...sim.args, "--port", String(ports.simCloud)],
        env: { ...childEnv, ...opts.simCloudEnv },
        cwd: repoRoot,
        echo: opts.echo,
        // This process need not trust the local CA (only the children get NODE_EXTRA_CA_CERTS).
        ready: () => answersHttps(`${simUrl}/login/common/discovery/v2.0/keys`, readFileSync(tls.caPath, "utf8")),
      }),
    );
    const appSettings = { ...localAppSettings(ports), ...opts.appSettings };
    const hostUrl = `http://127.0.0.1:${ports.host}`;
    const spawnHost = () => {
      const host = serviceEntry(opts.mode, "local/host/main");
      const app = opts.mode === "dist" ? path.join(repoRoot, "dist/functions/index.js") : path.join(repoRoot, "functions/index.ts");
      if (!existsSync(app)) throw new Error(`The app entry ${app} does not exist (run npm run build).`);
      return spawnService({
        name: "host",
        command: host.command,
        // The local host is the worker process: it takes the worker's Node.js flags, as the Azure host's worker does.
        args: [...workerNodeArguments(appSettings[WORKER_ARGUMENTS_SETTING]), ...host.args, "--app", app, "--port", String(ports.host)],
        env: { ...childEnv, ...appSettings },
        cwd: repoRoot,
        echo: opts.echo,
        timeoutMs: 90_000,
        ready: () => answersHttp(`${hostUrl}/api/health`),
      });
    };
    if (opts.withHost !== false) started.push(await spawnHost());
    Object.assign(processes, Object.fromEntries(started.map((p) => [p.name, p])));
    const restartHost = async (how: "crash" | "stop" = "stop") => {
      const old = processes.host;
      if (old) {
        if (how === "crash" && old.child.pid !== undefined && old.child.exitCode === null) {
          const exited = new Promise((resolve) => old.child.once("exit", resolve));
          process.kill(-old.child.pid, "SIGKILL");
          await exited;
        } else {
          await old.stop();
        }
        started.splice(started.indexOf(old), 1);
      }
      const next = await spawnHost();
      started.push(next);
      processes.host = next;
    };
    return {
      ports,
      hostUrl,
      simCloudUrl: simUrl,
      cosmosEndpoint: cosmos.endpoint,
      storageConnectionString: azurite.connectionString,
      appSettings,
      caPath: tls.caPath,
      processes,
      stop,
      restartHost,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
