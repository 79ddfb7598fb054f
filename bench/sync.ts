/**
 * `npm run bench -- sync [--users 100000] [--members 60000] [--changed 0.01] [--limits on|off] [--bap-per-minute N] [--phases a,b,c] [--echo]`
 *
 * The admin API's addUser limit is not published (facts.md); the simulated cloud assumes 600 per
 * minute, which makes a first sync of 60,000 users last at least 99 minutes whatever the product
 * does. `--bap-per-minute` sets another assumption; the floor it implies is printed.
 *
 * The Entra -> Dataverse sync against the simulated cloud (its own process, documented limits on)
 * with a large tenant: N users, one Production environment guarded by a security group of M direct
 * members. The sync's jobs run in this process from an in-memory queue (the same handlers the
 * queue trigger calls), so CPU, memory and waiting time are this process's own.
 *
 * (a) first sync, (b) a re-sync with no change, (c) a re-sync after a share of the users changed.
 * For each: Graph, Dataverse and Power Platform requests with their ratio to the minimum the page
 * and batch sizes allow; the batch size chosen; Cosmos requests; wall time split into waiting on
 * Graph / Dataverse / Power Platform / Cosmos and own CPU; own CPU per user (the Cosmos SDK's share
 * taken out); peak memory. It prints figures and asserts nothing.
 */
import { httpSend } from "../shared/clients/http-transport.js";
import { spawn } from "node:child_process";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { DEMO_APP, LARGE_ENVIRONMENT_ID, LARGE_TENANT_ID, largeTenantUserEnabled, largeTenantUserId, largeTenantUserLicensed } from "../local/sim-cloud/demo-tenant.js";
import { ensureLocalTls } from "../local/tls.js";
import { ensureDevSigningKey } from "../local/dev-identity.js";
import { answersHttps, COSMOS_EMULATOR_KEY, freePort, spawnService, startCosmosServer, type ManagedProcess } from "../local/services.js";
import { repoRoot } from "../local/paths.js";
import { WORKER_NODE_ARGUMENTS, workerNodeArguments } from "../local/worker-arguments.js";
import type { Envelope } from "../shared/queue/envelope.js";
import type { SendOptions } from "../shared/queue/transport.js";

interface Queued {
  envelope: Envelope;
  dueAt: number;
}

/** The sync-jobs queue, in memory: delays honoured, one message at a time (the order the host would see). */
class MemoryQueue {
  readonly items: Queued[] = [];
  sent = 0;
  send(envelope: Envelope, options?: SendOptions): Promise<void> {
    this.sent++;
    this.items.push({ envelope, dueAt: Date.now() + (options?.delaySeconds ?? 0) * 1000 });
    return Promise.resolve();
  }
  next(): Queued | undefined {
    this.items.sort((a, b) => a.dueAt - b.dueAt);
    return this.items.shift();
  }
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ratio = (actual: number, minimum: number) => (minimum === 0 ? (actual === 0 ? "1.00" : "inf") : (actual / minimum).toFixed(2));

/**
 * Client CPU (us) per request of plain node:https keep-alive requests shaped like addUser (POST, a
 * bearer token, a small JSON body): what such an HTTPS call costs here before our code runs.
 */
/** Client CPU (us) per request of `one`, `concurrency` in flight (after a warm-up round). */
async function requestCpuUs(one: () => Promise<void>, concurrency: number, count = 2000): Promise<number> {
  let left = count;
  const worker = async () => {
    while (left-- > 0) await one();
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  left = count;
  const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / count;
}

/**
 * `--profile <dir>`: a V8 CPU profile and a sampled allocation profile of each phase, written to
 * `<dir>/sync-<phase>.cpuprofile` and `.heapprofile` (open them in Chrome DevTools or VS Code). The
 * inspector's sampling costs CPU of its own: the figures of a profiled run are higher.
 */
async function startProfiling(): Promise<{ stop(dir: string, phase: string): Promise<string[]> }> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  await session.post("HeapProfiler.enable");
  await session.post("HeapProfiler.startSampling", { samplingInterval: 16_384 });
  return {
    async stop(dir, phase) {
      const { profile } = await session.post("Profiler.stop");
      const { profile: heap } = await session.post("HeapProfiler.stopSampling");
      session.disconnect();
      mkdirSync(dir, { recursive: true });
      const files = [join(dir, `sync-${phase}.cpuprofile`), join(dir, `sync-${phase}.heapprofile`)] as const;
      writeFileSync(files[0], JSON.stringify(profile));
      writeFileSync(files[1], JSON.stringify(heap));
      return [...files];
    },
  };
}

/** A POST shaped like addUser (bearer token, JSON body): through plain node:https (HTTP/1.1 keep-alive), and through the adapters' transport (HTTP/2 here). */
async function addUserShapedRequestCpuUs(url: string, concurrency: number): Promise<{ http1: number; transport: number }> {
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: concurrency });
  const body = Buffer.from(JSON.stringify({ ObjectId: randomUUID() }));
  const headers = { Authorization: `Bearer ${"x".repeat(1400)}`, "Content-Type": "application/json", Accept: "application/json" };
  const http1 = await requestCpuUs(
    () =>
      new Promise<void>((resolve, reject) => {
        const req = httpsRequest(url, { agent, method: "POST", headers: { ...headers, "Content-Length": body.length } }, (res) => {
          res.on("data", () => undefined);
          res.on("end", resolve);
        });
        req.on("error", reject);
        req.end(body);
      }),
    concurrency,
  );
  agent.destroy();
  const transport = await requestCpuUs(async () => void (await httpSend(url, { method: "POST", headers, body })), concurrency);
  return { http1, transport };
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      users: { type: "string", default: "100000" },
      members: { type: "string", default: "60000" },
      changed: { type: "string", default: "0.01" },
      limits: { type: "string", default: "on" },
      phases: { type: "string", default: "a,b,c" },
      "bap-per-minute": { type: "string", default: "" },
      echo: { type: "boolean", default: false },
      child: { type: "boolean", default: false },
      profile: { type: "string", default: "" },
    },
  });
  const tls = ensureLocalTls();
  if (!values.child) {
    // Node reads NODE_EXTRA_CA_CERTS only at start: run the benchmark in a child that trusts the local CA.
    // The sync runs in the child as in a Functions worker: with the worker's Node.js flags (local/worker-arguments.ts).
    const child = spawn(process.execPath, [...process.execArgv, ...workerNodeArguments(WORKER_NODE_ARGUMENTS), "--max-old-space-size=4096", ...process.argv.slice(1), "--child"], {
      stdio: "inherit",
      env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.caPath },
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    process.exitCode = code ?? 1;
    return;
  }
  const users = Number(values.users);
  const members = Number(values.members);
  const changedShare = Number(values.changed);
  const phases = new Set(values.phases.split(","));
  await ensureDevSigningKey();

  const processes: ManagedProcess[] = [];
  try {
    const cosmosPort = await freePort();
    const simPort = await freePort();
    const cosmos = await startCosmosServer({ port: cosmosPort, echo: values.echo });
    processes.push(cosmos);
    const simUrl = `https://127.0.0.1:${simPort}`;
    const startedAt = Date.now();
    processes.push(
      await spawnService({
        name: "sim-cloud",
        command: process.execPath,
        args: ["--import", "tsx", "--max-old-space-size=4096", `${repoRoot}/local/sim-cloud/main.ts`, "--port", String(simPort)],
        env: {
          ...process.env,
          SIM_CLOUD_LARGE_USERS: String(users),
          SIM_CLOUD_LARGE_GROUP_MEMBERS: String(members),
          ...(values.limits === "off" ? { SIM_CLOUD_RATE_LIMITS: "off" } : {}),
        },
        cwd: repoRoot,
        echo: values.echo,
        timeoutMs: 180_000,
        ready: () => answersHttps(`${simUrl}/login/common/discovery/v2.0/keys`, readFileSync(tls.caPath, "utf8")),
      }),
    );
    console.log(`simulated cloud with ${fmt(users)} users, a ${fmt(members)}-member security group, limits ${values.limits} (ready in ${fmt((Date.now() - startedAt) / 1000, 1)} s)`);

    Object.assign(process.env, {
      APP_ENV: "local",
      COSMOS_ENDPOINT: cosmos.endpoint,
      COSMOS_KEY: COSMOS_EMULATOR_KEY,
      COSMOS_DATABASE: `bench${Date.now()}`,
      COSMOS_BOOTSTRAP: "true",
      ENTRA_AUTHORITY_HOST: `${simUrl}/login`,
      AUTH_AUDIENCES: "api://license-control-plane",
      GRAPH_BASE_URL: `${simUrl}/graph`,
      POWER_PLATFORM_API_URL: `${simUrl}/bap`,
      MS_API_AUTH: "client-secret",
      MS_API_CLIENT_ID: DEMO_APP.appId,
      MS_API_CLIENT_SECRET: "local-simulated-cloud-accepts-any-secret",
      EVENT_QUEUE_TRANSPORT: "storage",
      EventQueueStorage: "UseDevelopmentStorage=true",
    });
    const [{ getRuntime }, { syncDepsFrom }, { handleSyncJob }, { enqueueDirectoryJob }, { meter }, { processMessage }] = await Promise.all([
      import("../shared/runtime.js"),
      import("../shared/sync/deps.js"),
      import("../shared/sync/handlers.js"),
      import("../shared/sync/jobs.js"),
      import("../shared/sync/metrics.js"),
      import("../shared/queue/transient.js"),
    ]);
    const rt = await getRuntime();
    const queue = new MemoryQueue();
    // The audit trail's writes (a sync.changes record per applied window) count as the run's Cosmos requests too.
    const audit = { append: (tenant: string, entry: Parameters<typeof rt.audit.append>[1]) => meter.time("cosmos", () => rt.audit.append(tenant, entry)) };
    const deps = { ...syncDepsFrom(rt), queue, audit, isPaused: () => Promise.resolve(false) };
    const tenantId = LARGE_TENANT_ID;
    await deps.settings.put(tenantId, LARGE_ENVIRONMENT_ID, { syncEnabled: true, massDisableThresholdPercent: 100, defaultSecurityRoleIds: [] }, "*", "bench");

    const sim = async <T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> => {
      const res = await fetch(`${simUrl}/_admin${path}`, {
        method: init.method ?? (init.body === undefined ? "GET" : "POST"),
        headers: { "Content-Type": "application/json" },
        ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
      });
      if (!res.ok) throw new Error(`sim ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    if (values["bap-per-minute"]) {
      await sim("/settings", { method: "PATCH", body: { rateLimits: { bap: { requestsPerWindow: Number(values["bap-per-minute"]), windowSeconds: 60 } } } });
    }
    const settings = await sim<{ graph: { deltaPageSize: number; groupDeltaMembersPerPage: number }; rateLimits: { bap: { requestsPerWindow: number; windowSeconds: number; enabled: boolean } } }>("/settings");
    const floor = await addUserShapedRequestCpuUs(`${simUrl}/_admin/health`, rt.config.SYNC_ADDUSER_CONCURRENCY);
    console.log(`reference: one request shaped like addUser (POST, bearer token, JSON body; ${rt.config.SYNC_ADDUSER_CONCURRENCY} in flight) to the simulated cloud costs ${fmt(floor.transport, 1)} us of client CPU through the adapters' transport (HTTP/2), ${fmt(floor.http1, 1)} us through plain node:https (HTTP/1.1 keep-alive) - the floor under each addUser`);
    meter.enabled = true;

    const drain = async () => {
      for (let item = queue.next(); item; item = queue.next()) {
        const wait = item.dueAt - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const envelope = item.envelope;
        await processMessage(envelope, (e) => handleSyncJob(deps, e).then(() => undefined), {
          sender: { transport: "storage-queue", queueName: "sync-jobs", send: (e, o) => queue.send(e, o), close: () => Promise.resolve() },
          failures: rt.failures,
          log: { info: () => undefined, warn: (...a: unknown[]) => console.warn(...a), error: (...a: unknown[]) => console.error(...a) },
        });
      }
    };

    const phase = async (name: string, label: string, before?: () => Promise<{ changed: number; eligibleChanged: number }>) => {
      const change = before ? await before() : { changed: 0, eligibleChanged: 0 };
      await sim("/counters/reset", { body: {} });
      meter.reset();
      const rows0 = (await deps.store.readEnvState(tenantId, LARGE_ENVIRONMENT_ID))?.doc.lastRun?.runId;
      const profiling = values.profile ? await startProfiling() : undefined;
      const cpu0 = process.cpuUsage();
      const switches0 = process.resourceUsage().voluntaryContextSwitches;
      const t0 = performance.now();
      await enqueueDirectoryJob(queue, tenantId, { trigger: "schedule" });
      await drain();
      const wallMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const wakeups = process.resourceUsage().voluntaryContextSwitches - switches0;
      if (profiling) console.log(`  profiles: ${(await profiling.stop(values.profile, name)).join(", ")}`);
      const counters = await sim<{
        graph: { requests: number; byKind: Record<string, number>; throttled: number };
        dataverse: { requests: number; byKind: Record<string, number>; batchItemsByKind: Record<string, number>; throttled: number };
        bap: { requests: number; byKind: Record<string, number>; throttled: number };
      }>("/counters");
      const state = await deps.store.readEnvState(tenantId, LARGE_ENVIRONMENT_ID);
      const lastRunId = state?.doc.lastRun?.runId;
      const runDoc = lastRunId && lastRunId !== rows0 ? (await deps.store.readRun(tenantId, LARGE_ENVIRONMENT_ID, lastRunId))?.doc : undefined;
      const c = runDoc?.counts;
      const byOp = runDoc?.plan?.byOp ?? {};
      const batch = runDoc?.batchSize ?? null;

      // Minimums the page and batch sizes allow.
      const full = runDoc?.full ?? false;
      const deltaPage = settings.graph.deltaPageSize;
      const usersPages = full ? Math.ceil(users / deltaPage) : Math.max(1, Math.ceil(change.changed / deltaPage));
      const groupPages = full ? Math.max(1, Math.ceil(members / settings.graph.groupDeltaMembersPerPage)) : 1;
      const graphMin = usersPages + groupPages + 1;
      const writes = (byOp.update ?? 0) + (byOp.disable ?? 0);
      const dvReadsMin = runDoc ? (full ? Math.max(1, Math.ceil(((runDoc.plan?.enabledUsers ?? 0) + 10) / 5000)) : Math.ceil(runDoc.counts.read / 1000)) : 0;
      const dvWritesMin = batch ? Math.ceil(writes / batch) : writes > 0 ? 1 : 0;
      // addUser answers no record id: the records of the adds that get default roles or an access
      // mode right after are read back (up to 1,000 ids a request).
      const dvReadBackMin = Math.ceil((runDoc?.plan?.addsReadBack ?? 0) / 1000);
      const dataverseMin = dvReadsMin + dvReadBackMin + dvWritesMin;
      const bapAdds = counters.bap.byKind["environments.addUser"] ?? 0;
      const bapMin = 1 + (byOp.add ?? 0) + (byOp.reenable ?? 0);
      const dvWriteItems = Object.entries(counters.dataverse.batchItemsByKind).filter(([k]) => !k.endsWith(".list") && !k.endsWith(".get")).reduce((n, [, v]) => n + v, 0);
      // Time the limits allow at the least: the addUser budget per window of the admin API.
      const bapLimit = settings.rateLimits.bap;
      const bapFloorSeconds = bapLimit.enabled ? Math.max(0, Math.ceil(bapMin / bapLimit.requestsPerWindow) - 1) * bapLimit.windowSeconds : 0;
      const graphMs = meter.busyMs("graph");
      const dvMs = meter.busyMs("dataverse");
      const bapMs = meter.busyMs("powerPlatform");
      const cosmosMs = meter.busyMs("cosmos");
      const ownCpuUs = cpu.user + cpu.system;
      const ownExclCosmos = ownCpuUs - meter.cosmosCpu();
      const considered = c?.read ?? 0;
      const mem = process.memoryUsage();
      console.log(`\n(${name}) ${label}${change.changed ? ` - ${fmt(change.changed)} users changed, ${fmt(change.eligibleChanged)} of them eligible (enabled, licensed, in the group)` : ""}`);
      console.log(`  run: ${runDoc ? `${runDoc.full ? "full" : "incremental"}, counts ${JSON.stringify(c)}` : "none started (nothing to do)"}`);
      console.log(`  Graph requests:            ${fmt(counters.graph.requests)} (minimum ${fmt(graphMin)}: ${fmt(usersPages)} users/delta + ${fmt(groupPages)} groups/delta + 1 $batch) ratio ${ratio(counters.graph.requests, graphMin)}; throttled ${counters.graph.throttled}`);
      console.log(`  Dataverse requests:        ${fmt(counters.dataverse.requests)} (minimum ${fmt(dataverseMin)}: ${fmt(dvReadsMin)} reads + ${fmt(dvReadBackMin)} read-backs after addUser + ${fmt(dvWritesMin)} write batches) ratio ${ratio(counters.dataverse.requests, dataverseMin)}; write operations ${fmt(dvWriteItems)}; throttled ${counters.dataverse.throttled}; batch size chosen ${batch ?? "-"}`);
      console.log(`  Power Platform requests:   ${fmt(counters.bap.requests)} (addUser ${fmt(bapAdds)}; minimum ${fmt(bapMin)}) ratio ${ratio(counters.bap.requests, bapMin)}; throttled ${counters.bap.throttled}`);
      console.log(`  Cosmos requests:           ${fmt(meter.count("cosmos"))}`);
      console.log(`  wall time:                 ${fmt(wallMs / 1000, 1)} s = Graph ${fmt(graphMs / 1000, 1)} s, Dataverse ${fmt(dvMs / 1000, 1)} s, Power Platform ${fmt(bapMs / 1000, 1)} s (limits allow no less than ${fmt(bapFloorSeconds)} s: ratio ${bapFloorSeconds ? ratio(bapMs / 1000, bapFloorSeconds) : "-"}), Cosmos ${fmt(cosmosMs / 1000, 1)} s, own CPU ${fmt(ownCpuUs / 1e6, 1)} s (user ${fmt(cpu.user / 1e6, 1)} s, system ${fmt(cpu.system / 1e6, 1)} s; ${fmt(wakeups)} wakeups from idle)`);
      const perUserLogic = meter.sectionCpu("directory") + meter.sectionCpu("plan");
      console.log(`  own CPU per user:          ${considered ? fmt(ownExclCosmos / Math.max(considered, 1), 1) : "-"} us (excluding ${fmt(meter.cosmosCpu() / 1e6, 1)} s in the Cosmos SDK; ${fmt(considered)} users considered)`);
      console.log(`    of which: directory read + plan ${fmt(perUserLogic / 1e6, 1)} s (${considered ? fmt(perUserLogic / considered, 1) : "-"} us per user, Cosmos SDK included), applying ${fmt(meter.sectionCpu("apply") / 1e6, 1)} s (${fmt(((byOp.add ?? 0) + (byOp.reenable ?? 0) + writes) || 0)} changes: ${fmt(meter.sectionCpu("apply") / Math.max(1, (byOp.add ?? 0) + (byOp.reenable ?? 0) + writes), 1)} us each)`);
      console.log(`  memory:                    peak RSS ${fmt(process.resourceUsage().maxRSS / 1024)} MB, heap now ${fmt(mem.heapUsed / 1048576)} MB`);
    };

    if (phases.has("a")) await phase("a", "first sync");
    if (phases.has("b")) await phase("b", "re-sync, nothing changed");
    if (phases.has("c")) {
      await phase("c", `re-sync after ${changedShare * 100}% of the users changed`, async () => {
        const count = Math.round(users * changedShare);
        const step = Math.max(1, Math.floor(users / count));
        let eligibleChanged = 0;
        const ids: string[] = [];
        for (let n = 1, i = 0; i < count && n <= users; n += step, i++) {
          ids.push(largeTenantUserId(n));
          if (n <= members && largeTenantUserEnabled(n) && largeTenantUserLicensed(n)) eligibleChanged++;
        }
        for (let i = 0; i < ids.length; i += 16) {
          await Promise.all(ids.slice(i, i + 16).map((id) => sim(`/users/${id}`, { method: "PATCH", body: { jobTitle: `Changed ${randomUUID().slice(0, 8)}` } })));
        }
        return { changed: ids.length, eligibleChanged };
      });
    }
  } finally {
    for (const p of processes.reverse()) await p.stop();
  }
}
