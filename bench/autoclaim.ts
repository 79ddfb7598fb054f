import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createWriteStream, mkdtempSync, readFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { CosmosClient, type Container } from "@azure/cosmos";
import { QueueClient } from "@azure/storage-queue";
import { answersHttp, COSMOS_EMULATOR_KEY, freePort, spawnService } from "../local/services.js";
import { repoRoot } from "../local/paths.js";
import { serviceEntry } from "../local/stack.js";
import { WORKER_NODE_ARGUMENTS, workerNodeArguments } from "../local/worker-arguments.js";
import { buildDemoTenant, DEMO_PLANS, DEMO_SKUS, DEMO_TENANT_ID } from "../local/sim-cloud/demo-tenant.js";
import type { TenantFixture } from "../local/sim-cloud/state/fixture.js";
import { KNOWN_APPS } from "../shared/autoclaim/apps.js";
import { freeStackPorts, startTestStack, type TestStack } from "../test/support/stack.js";
import { cpuByComponent, readProfile } from "./cpu-profile.js";
import { numberArg, pct, postJson, simAdmin, stringArg } from "./support.js";

const BENCH_BACKUP_SKU = "7b0a4f3e-2c51-4d8a-9e6f-1a2b3c4d5e01";

/**
 * `npm run bench -- autoclaim [--events 5000] [--rate 50] [--burst 2000] [--latency 50]`
 *
 * The auto-claim pipeline through the real local stack (Functions host, Azurite queue, the
 * Cosmos-compatible server in its own process, the simulated cloud with Graph latency), in one run:
 *   1. raw capacity of the local services with no work of ours: queue receive+delete, Cosmos point
 *      writes, conditional patches on one item;
 *   2. steady load: distinct users at a fixed rate through POST /sign-in-events; latency from
 *      ingestion (event stored) to assigned (claim marked after Graph confirmed);
 *   3. a burst: drain rate, and its ratio to the bound the local services allow;
 *   4. per claimed event: Cosmos requests (counted by a proxy in front of the Cosmos server), Graph
 *      requests (the simulated cloud's counters), the host process's CPU; over-assignments.
 * Measures and prints; asserts nothing.
 */
export async function run(args: string[]): Promise<void> {
  const steadyEvents = numberArg(args, "--events", 5000);
  const rate = numberArg(args, "--rate", 50);
  const burstEvents = numberArg(args, "--burst", 2000);
  const latency = numberArg(args, "--latency", 50);
  const shards = numberArg(args, "--shards", 8);
  const linger = stringArg(args, "--linger"); // AUTOCLAIM_BATCH_LINGER_MS for the host (default: the app's)
  const storeLinger = stringArg(args, "--store-linger"); // EVENT_STORE_LINGER_MS for the host (default: the app's)
  // --cpu-profile: the host samples its JavaScript thread; each of the steady and burst phases is split by component.
  const cpuProfile = args.includes("--cpu-profile") ? join(mkdtempSync(join(tmpdir(), "autoclaim-prof-")), "host.cpuprofile") : undefined;
  console.log(`autoclaim bench: steady ${steadyEvents} events at ${rate}/s, burst ${burstEvents}, Graph latency ${latency} ms, ${shards} counter shards`);
  console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(" / ")}`);

  const ports = await freeStackPorts();
  // The Cosmos server and Azurite count the requests they serve (local/request-counter.cjs).
  process.env.LOCAL_COUNT_REQUESTS = "1";
  const cosmosCounter = serviceCounter(`http://127.0.0.1:${ports.cosmos}`);
  const queueCounter = serviceCounter(`http://127.0.0.1:${ports.queue}`);
  const stack = await startTestStack({
    ports,
    appSettings: {
      AUTOCLAIM_DAILY_CAP_PER_CALLER: "10000000",
      AUTOCLAIM_COUNTER_SHARDS: String(shards),
      LOCAL_HOST_QUEUE_STATS: "1", // the listener logs in-flight, receives and deletes per second
      ...(linger ? { AUTOCLAIM_BATCH_LINGER_MS: linger } : {}),
      ...(storeLinger ? { EVENT_STORE_LINGER_MS: storeLinger } : {}),
      ...(cpuProfile
        ? { NODE_OPTIONS: `--import ${join(dirname(fileURLToPath(import.meta.url)), "cpu-profile-preload.mjs")}`, BENCH_CPU_PROFILE_FILE: cpuProfile }
        : {}),
    },
    simCloudEnv: { SIM_CLOUD_RATE_LIMITS: "off" },
    // BENCH_ECHO=1: the host's log on this console (e.g. each handler's duration).
    echo: process.env.BENCH_ECHO === "1",
  });
  const queues = (JSON.parse(readFileSync("host.json", "utf8")) as { extensions: { queues: { batchSize: number; newBatchThreshold: number; maxPollingInterval: string } } }).extensions.queues;
  try {
    const ca = readFileSync(stack.caPath);
    const sim = (method: string, path: string, body?: unknown) => simAdmin(ca, `${stack.simCloudUrl}/_admin/${path}`, method, body);
    const hostPid = stack.processes.host?.child.pid;
    // The host's log goes to a file (its errors are counted at the end).
    const hostLog = join(mkdtempSync(join(tmpdir(), "autoclaim-host-")), "host.log");
    const logStream = createWriteStream(hostLog);
    stack.processes.host?.child.stdout?.on("data", (c: Buffer) => logStream.write(c));
    stack.processes.host?.child.stderr?.on("data", (c: Buffer) => logStream.write(c));

    // ---- 1. raw capacity -------------------------------------------------------------------
    await rawCapacity(stack); // a first, untimed round warms the services up (JIT, connections)
    const raw = await rawCapacity(stack);
    console.log("\n1. raw capacity of the local services (no work of ours; the second of two rounds)");
    console.log(`   queue (Azurite) receive+delete: ${raw.queue.toFixed(0)} msg/s   (8 receivers x 32 per receive; sends: ${raw.queueSend.toFixed(0)} msg/s)`);
    console.log(`   Cosmos point writes (creates):  ${raw.writes.toFixed(0)} ops/s  (32 concurrent)`);
    console.log(`   Cosmos conditional patches, one item: ${raw.patches.toFixed(0)} ops/s  (32 concurrent)`);

    // ---- set-up: users, products, policy -----------------------------------------------------
    const fixture = buildDemoTenant() as TenantFixture & { users: Record<string, unknown>[] };
    const userIds = Array.from({ length: steadyEvents + burstEvents }, () => randomUUID());
    for (const id of userIds) fixture.users.push({ id, userPrincipalName: `bench.${id.slice(0, 13)}@contoso-sim.onmicrosoft.com`, displayName: `Bench ${id.slice(0, 8)}`, usageLocation: "NL" });
    for (const s of fixture.skus ?? []) {
      if (s.skuId === DEMO_SKUS.powerBiPremiumPerUser) s.prepaidUnits = { enabled: steadyEvents + burstEvents + 100 };
    }
    // A backup that licenses Power BI too (A2), as in the tests: never reached while the primary has units.
    fixture.skus?.push({
      skuId: BENCH_BACKUP_SKU, skuPartNumber: "POWER_BI_PRO_CE", displayName: "Power BI Pro (nonprofit)", prepaidUnits: { enabled: 20 },
      servicePlans: [{ servicePlanId: DEMO_PLANS.powerBi, servicePlanName: "BI_AZURE_P2" }],
    });
    await sim("POST", "reset", { fixture });
    await sim("PATCH", "settings", { latencyMs: { graph: latency }, rateLimits: { graph: { enabled: false } } });
    const admin = await stack.token({ tenantId: DEMO_TENANT_ID, roles: ["Global Administrator"] });
    const relay = await stack.token({ tenantId: DEMO_TENANT_ID, appRoles: ["SignInEvents.Send"], appId: randomUUID() });
    await expectOk(await stack.call(`/api/tenants/${DEMO_TENANT_ID}`, { method: "PUT", token: admin, body: JSON.stringify({ displayName: "Contoso (bench)" }) }), "onboard");
    await setSetting(stack, admin, "auto-claim", { enabled: true });
    // One policy (a policy names one of three apps, one policy per app): Power BI, which claims at
    // sign-in. The phases' events are told apart by their id prefix (`phasePrefix`).
    const appId = KNOWN_APPS.powerBi.appId;
    await expectOk(
      await stack.call(`/api/tenants/${DEMO_TENANT_ID}/auto-claim-policies`, {
        method: "POST",
        token: admin,
        body: JSON.stringify({ name: "bench", appId, products: [{ skuId: DEMO_SKUS.powerBiPremiumPerUser }, { skuId: BENCH_BACKUP_SKU }] }),
      }),
      "policy",
    );
    const post = (userId: string, phase: string) =>
      postJson(
        `${stack.hostUrl}/api/tenants/${DEMO_TENANT_ID}/sign-in-events`,
        relay,
        JSON.stringify({ eventId: `${phasePrefix(phase)}${randomUUID()}`, userId, appId, trigger: "sign-in", occurredAt: new Date().toISOString() }),
      );
    const claims = stack.database.container("autoclaim");
    const events = stack.database.container("events");

    // Warm-up (untimed): first requests load modules, JWKS, the catalog, the counters.
    const warmPhase = "warm-up";
    const warmUsers = await addUsers(sim, 20);
    const warmFrom = await assignsSent(sim);
    await Promise.all(warmUsers.map((u) => post(u, warmPhase)));
    await waitForClaims(sim, warmFrom, events, warmPhase, warmUsers.length, 60_000);

    // ---- 2. steady load ---------------------------------------------------------------------
    const steadyPhase = "steady";
    const steadyUsers = userIds.slice(0, steadyEvents);
    if (cpuProfile && hostPid) process.kill(hostPid, "SIGUSR2"); // the warm-up's samples go to .0
    const s0 = await snapshot(sim, cosmosCounter, hostPid, stack, queueCounter);
    const steadyFrom = await assignsSent(sim);
    const started = performance.now();
    const statuses = new Map<number, number>();
    await atRate(steadyUsers, rate, async (user) => {
      const res = await post(user, steadyPhase);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status !== 202) console.error(`steady post: ${res.status} ${res.text}`);
    });
    const sendSeconds = (performance.now() - started) / 1000;
    const steadyAccepted = statuses.get(202) ?? 0;
    if (steadyAccepted < steadyUsers.length) console.log(`   (not accepted at ingestion: ${fmtMap(statuses)})`);
    await waitForClaims(sim, steadyFrom, events, steadyPhase, steadyAccepted, 300_000);
    const s1 = await snapshot(sim, cosmosCounter, hostPid, stack, queueCounter);
    const steadyLatencies = await latencies(claims, events, steadyPhase);
    console.log(`\n2. steady load: ${steadyUsers.length} events for distinct users at ${rate}/s (sent in ${sendSeconds.toFixed(1)} s; answers ${fmtMap(statuses)})`);
    console.log(`   ingestion -> assigned ms: p50 ${pct(steadyLatencies, 50, 0)}  p95 ${pct(steadyLatencies, 95, 0)}  p99 ${pct(steadyLatencies, 99, 0)}  max ${pct(steadyLatencies, 100, 0)}   (target p99 < 2000)`);
    console.log(`   the host polls the queue with a randomized back-off from 100 ms up to maxPollingInterval ${queues.maxPollingInterval} (host.json) when it finds no message;`);
    console.log(`   batchSize ${queues.batchSize}, newBatchThreshold ${queues.newBatchThreshold} (host.json); the claim processor gathers claims for ${linger ? `${linger} ms (--linger)` : "AUTOCLAIM_BATCH_LINGER_MS (default 100 ms)"} into one Graph $batch`);
    perEvent("   steady", s0, s1, steadyAccepted);
    coresUsed("   steady", s0, s1);
    if (cpuProfile && hostPid) process.kill(hostPid, "SIGUSR2"); // the steady phase's samples go to .1

    // ---- 3. burst ---------------------------------------------------------------------------
    const burstPhase = "burst";
    const burstUsers = userIds.slice(steadyEvents);
    const b0 = await snapshot(sim, cosmosCounter, hostPid, stack, queueCounter);
    const burstFrom = await assignsSent(sim);
    const burstStart = performance.now();
    let burstAccepted = 0;
    await pool(burstUsers, 64, async (u) => {
      const res = await post(u, burstPhase);
      if (res.status !== 202) console.error(`burst post: ${res.status} ${res.text}`);
      else burstAccepted++;
    });
    const ingestSeconds = (performance.now() - burstStart) / 1000;
    await waitForClaims(sim, burstFrom, events, burstPhase, burstAccepted, 600_000);
    const b1 = await snapshot(sim, cosmosCounter, hostPid, stack, queueCounter);
    const window = await claimWindow(claims, events, burstPhase);
    const drainRate = burstAccepted / window.seconds;
    const cosmosPerEvent = (b1.cosmos.total - b0.cosmos.total) / burstAccepted;
    const bounds = {
      queue: raw.queue,
      cosmos: raw.writes / cosmosPerEvent,
      counters: raw.patches * shards,
    };
    const [limit, bound] = Object.entries(bounds).sort((a, b) => a[1] - b[1])[0]!;
    console.log(`\n3. burst: ${burstUsers.length} events at once (ingested in ${ingestSeconds.toFixed(1)} s = ${(burstUsers.length / ingestSeconds).toFixed(0)}/s)`);
    console.log(`   drain: first stored -> last assigned ${window.seconds.toFixed(1)} s = ${drainRate.toFixed(1)} claims/s`);
    console.log(
      `   bound = min(queue ${bounds.queue.toFixed(0)}/s, Cosmos ${raw.writes.toFixed(0)} ops/s / ${cosmosPerEvent.toFixed(2)} ops per event = ${bounds.cosmos.toFixed(0)}/s, ` +
        `patches ${raw.patches.toFixed(0)}/s x ${shards} shards = ${bounds.counters.toFixed(0)}/s) = ${bound.toFixed(0)}/s, limited by ${limit}`,
    );
    console.log(`   drain / bound = ${(drainRate / bound).toFixed(2)}   (target >= 0.8)`);
    perEvent("   burst", b0, b1, burstAccepted);
    coresUsed("   burst", b0, b1);
    cpuAtRate("   burst", b0, b1, burstAccepted, 0.8 * bound);

    if (cpuProfile && hostPid) {
      process.kill(hostPid, "SIGUSR2"); // the burst's samples go to .2
      for (const [label, part, n, cpuMs] of [["steady", 1, steadyAccepted, s1.cpuMs - s0.cpuMs], ["burst", 2, burstAccepted, b1.cpuMs - b0.cpuMs]] as const) {
        const byComponent = cpuByComponent(await readProfile(`${cpuProfile}.${part}`));
        const total = [...byComponent.values()].reduce((a, b) => a + b, 0);
        console.log(`\n   host JavaScript thread per event, ${label} (CPU profile, 0.5 ms sampling; ${(total / n).toFixed(2)} ms of ${(cpuMs / n).toFixed(2)} ms process CPU):`);
        for (const [component, ms] of [...byComponent].sort((a, b) => b[1] - a[1])) {
          console.log(`     ${component.padEnd(52)} ${(ms / n).toFixed(2)} ms  (${((100 * ms) / total).toFixed(0)}%)`);
        }
      }
    }

    // The same raw capacity again, now that the services hold the run's data (a service whose cost
    // grows with what it stores shows here).
    const rawAfter = await rawCapacity(stack);
    console.log(
      `\n   raw capacity after the run: queue receive+delete ${rawAfter.queue.toFixed(0)} msg/s (before ${raw.queue.toFixed(0)}), ` +
        `Cosmos creates ${rawAfter.writes.toFixed(0)} ops/s (${raw.writes.toFixed(0)}), conditional patches ${rawAfter.patches.toFixed(0)} ops/s (${raw.patches.toFixed(0)})`,
    );

    // ---- 4. over-assignments ------------------------------------------------------------------
    const summary = (await sim("GET", "summary")) as { skus: { skuId: string; consumedUnits: number; available: number }[] };
    const users = (await sim("GET", "users")) as { value: { id: string; assignedLicenses?: { skuId: string }[] }[] };
    const benchSet = new Set([...userIds, ...warmUsers]);
    const policyProducts = new Set<string>([DEMO_SKUS.powerBiPremiumPerUser, BENCH_BACKUP_SKU]);
    let doubles = 0;
    let licensed = 0;
    for (const u of users.value) {
      if (!benchSet.has(u.id)) continue;
      const held = (u.assignedLicenses ?? []).filter((l) => policyProducts.has(l.skuId)).length;
      if (held > 0) licensed++;
      if (held > 1) doubles++;
    }
    const negative = summary.skus.filter((s) => s.available < 0).map((s) => s.skuId);
    console.log("\n4. correctness");
    console.log(`   bench users licensed: ${licensed} of ${benchSet.size}; users with more than one product of the policy: ${doubles}; products over their units: ${negative.length}`);
    console.log(`   over-assignments: ${doubles + negative.length}   (must be 0)`);
    await new Promise((r) => logStream.end(r));
    const errors = readFileSync(hostLog, "utf8").split("\n").filter((l) => / error: |Unhandled error|Internal error/.test(l));
    console.log(`   host log ${hostLog}: ${errors.length} error lines${errors.length ? ` (first: ${errors[0]!.slice(0, 300)})` : ""}`);
    const handled = handlerTimes(readFileSync(hostLog, "utf8"));
    for (const [label, from, to] of [["steady", s0, s1], ["burst", b0, b1]] as const) {
      const rows = handled.filter((h) => h.at >= from.wallClock && h.at <= to.wallClock);
      const queued = rows.map((h) => h.queuedMs);
      const inHandler = rows.map((h) => h.ms);
      console.log(
        `   ${label}: waiting in the queue ms p50 ${pct(queued, 50, 0)} p95 ${pct(queued, 95, 0)} p99 ${pct(queued, 99, 0)}; ` +
          `in the handler ms p50 ${pct(inHandler, 50, 0)} p95 ${pct(inHandler, 95, 0)} p99 ${pct(inHandler, 99, 0)} (${rows.length} deliveries, host log)`,
      );
    }
    for (const [label, phase] of [["steady", steadyPhase], ["burst", burstPhase]] as const) {
      const missed = await notClaimed(events, phase);
      console.log(`   ${label} events not claimed: ${missed.size === 0 ? "none" : [...missed].map(([k, n]) => `${k}: ${n}`).join(", ")}`);
    }

    // ---- 5. the local host's own cost ------------------------------------------------------------
    // In Azure the Functions host (HTTP front door, queue polling and deletes) is a process of its
    // own; here it shares the app's. The same load against an app whose functions do nothing.
    // As many events as the steady phase: a shorter baseline moved by ~20% between runs, more than the app figure it is subtracted from.
    const base = await hostBaseline(stack, relay, steadyEvents, rate, burstEvents);
    const steadyHost = (s1.cpuMs - s0.cpuMs) / steadyAccepted;
    const burstHost = (b1.cpuMs - b0.cpuMs) / burstAccepted;
    console.log("\n5. the local host's own cost: one HTTP request and one queue message per event, functions that do nothing (bench/baseline-app.ts)");
    console.log(`   host process CPU per event: steady ${base.steadyMs.toFixed(2)} ms, burst ${base.burstMs.toFixed(2)} ms`);
    const appWakeups = (s1.wakeups - s0.wakeups) / steadyAccepted - base.steadyWakeups;
    const [idle20, idle1] = [idleWakeupCostUs(1000 / rate), idleWakeupCostUs(1)];
    console.log(`   host wakeups per event: steady ${base.steadyWakeups.toFixed(2)}, burst ${base.burstWakeups.toFixed(2)}; the app adds ${appWakeups.toFixed(2)} in the steady phase`);
    console.log(
      `   this machine: a Node.js process woken by a timer with nothing to do costs ${idle20.toFixed(0)} us of CPU per wakeup after ${(1000 / rate).toFixed(0)} ms idle, ` +
        `${idle1.toFixed(0)} us after 1 ms: the app's extra steady wakeups at that price ~ ${((appWakeups * idle20) / 1000).toFixed(2)} ms per event`,
    );
    console.log(
      `   app CPU per claimed event = host process CPU - that: steady ${(steadyHost - base.steadyMs).toFixed(2)} ms, burst ${(burstHost - base.burstMs).toFixed(2)} ms   (target < 3; ` +
        "the baseline also holds @azure/functions' invocation of a no-op function, which a worker pays in Azure too)",
    );
  } finally {
    await stack.stop();
  }
}

/** Host process CPU per event for an app that does nothing: `n` POSTs and `n` queue messages, at `rate`/s, then all at once. */
async function hostBaseline(
  stack: TestStack, token: string, steadyN: number, rate: number, burstN: number,
): Promise<{ steadyMs: number; burstMs: number; steadyWakeups: number; burstWakeups: number }> {
  const port = await freePort();
  const hostEntry = serviceEntry("ts", "local/host/main");
  const host = await spawnService({
    name: "baseline-host",
    command: hostEntry.command,
    // The same worker flags as the app's host (local/stack.ts), so that the difference is the app's.
    args: [...workerNodeArguments(WORKER_NODE_ARGUMENTS), ...hostEntry.args, "--app", join(repoRoot, "bench/baseline-app.ts"), "--port", String(port), "--settings", mkdtempSync(join(tmpdir(), "baseline-settings-"))],
    env: { ...process.env, AzureWebJobsStorage: stack.storageConnectionString, FUNCTIONS_WORKER_RUNTIME: "node" },
    cwd: repoRoot,
    ready: () => answersHttp(`http://127.0.0.1:${port}/`),
  });
  try {
    const queue = new QueueClient(stack.storageConnectionString, "baseline");
    await queue.createIfNotExists();
    // A message and a request body the size of the pipeline's.
    const message = Buffer.from(JSON.stringify({ kind: "sign-in-event", id: randomUUID(), tenantId: DEMO_TENANT_ID, attempt: 1, body: { event: { eventId: randomUUID(), userId: randomUUID(), appId: randomUUID(), trigger: "sign-in", occurredAt: new Date().toISOString() }, source: "E3", caller: { id: randomUUID(), kind: "relay" }, receivedAt: new Date().toISOString() }, firstEnqueuedAt: new Date().toISOString() })).toString("base64");
    const one = async () => {
      await postJson(`http://127.0.0.1:${port}/api/baseline`, token, JSON.stringify({ eventId: `bench-${randomUUID()}`, userId: randomUUID(), appId: randomUUID(), trigger: "sign-in", occurredAt: new Date().toISOString() }));
      await queue.sendMessage(message);
    };
    const drained = async () => {
      for (let i = 0; i < 1200; i++) {
        if ((await queue.getProperties()).approximateMessagesCount === 0) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error("the baseline queue did not drain");
    };
    const pid = host.child.pid;
    await pool(Array.from({ length: 100 }, (_, i) => i), 8, one); // warm-up
    await drained();
    let [cpu, wakeups] = [cpuMsOf(pid), wakeupsOf(pid)];
    await atRate(Array.from({ length: steadyN }, (_, i) => i), rate, one);
    await drained();
    const steadyMs = (cpuMsOf(pid) - cpu) / steadyN;
    const steadyWakeups = (wakeupsOf(pid) - wakeups) / steadyN;
    [cpu, wakeups] = [cpuMsOf(pid), wakeupsOf(pid)];
    await pool(Array.from({ length: burstN }, (_, i) => i), 64, one);
    await drained();
    const burstMs = (cpuMsOf(pid) - cpu) / burstN;
    const burstWakeups = (wakeupsOf(pid) - wakeups) / burstN;
    return { steadyMs, burstMs, steadyWakeups, burstWakeups };
  } finally {
    await host.stop();
  }
}

// ---- measurements ------------------------------------------------------------------------

interface RequestCounts {
  total: number;
  byKind: Record<string, number>;
}

interface Snapshot {
  cosmos: RequestCounts;
  queue: RequestCounts;
  graph: number;
  cpuMs: number;
  /** Times the host's JavaScript thread went to sleep and was woken (voluntary context switches). */
  wakeups: number;
  at: number;
  wallClock: number;
  /** CPU ms of every process of the stack (and this one), to see which ones the phase kept busy. */
  processCpuMs: Record<string, number>;
}

async function snapshot(
  sim: (m: string, p: string) => Promise<unknown>, cosmosCounter: ServiceCounter, hostPid: number | undefined, stack: TestStack, queueCounter: ServiceCounter,
): Promise<Snapshot> {
  const counters = (await sim("GET", "counters")) as { graph: { requests: number } };
  const own = process.cpuUsage();
  const processCpuMs: Record<string, number> = { "bench (load generator)": (own.user + own.system) / 1000 };
  for (const [name, p] of Object.entries(stack?.processes ?? {})) processCpuMs[name] = cpuMsOf(p.child.pid);
  return {
    cosmos: await cosmosCounter.snapshot(), queue: await queueCounter.snapshot(), graph: counters.graph.requests, cpuMs: cpuMsOf(hostPid), wakeups: wakeupsOf(hostPid), at: performance.now(), wallClock: Date.now(), processCpuMs,
  };
}

/** Cores each process kept busy between two snapshots (1.0 = one core all the time). */
function coresUsed(label: string, a: Snapshot, b: Snapshot): void {
  const wallMs = b.at - a.at;
  const parts = Object.keys(b.processCpuMs).map((name) => [name, ((b.processCpuMs[name] ?? 0) - (a.processCpuMs[name] ?? 0)) / wallMs] as const);
  const total = parts.reduce((sum, [, c]) => sum + c, 0);
  console.log(`${label} cores busy over ${(wallMs / 1000).toFixed(1)} s: ${total.toFixed(2)} of ${cpus().length} (${parts.sort((x, y) => y[1] - x[1]).map(([n, c]) => `${n} ${c.toFixed(2)}`).join(", ")})`);
}

/** The cores the measured CPU per event of each process would take at `rate` events per second. */
function cpuAtRate(label: string, a: Snapshot, b: Snapshot, n: number, rate: number): void {
  const perEventMs = Object.keys(b.processCpuMs).map((name) => [name, ((b.processCpuMs[name] ?? 0) - (a.processCpuMs[name] ?? 0)) / n] as const);
  const services = perEventMs.filter(([name]) => !name.startsWith("bench"));
  const cores = (list: (readonly [string, number])[]) => (list.reduce((sum, [, ms]) => sum + ms, 0) * rate) / 1000;
  console.log(
    `${label} CPU per event: ${perEventMs.sort((x, y) => y[1] - x[1]).map(([name, ms]) => `${name} ${ms.toFixed(2)} ms`).join(", ")}; ` +
      `at the target rate ${rate.toFixed(0)}/s the host and services would need ${cores(services).toFixed(2)} cores, ${cores(perEventMs).toFixed(2)} with the load generator (machine: ${cpus().length})`,
  );
}

function perEvent(label: string, a: Snapshot, b: Snapshot, n: number): void {
  console.log(`${label} per claimed event: Cosmos requests ${requestsPerEvent(a.cosmos, b.cosmos, n, "target <= 6: ")}`);
  console.log(`${label} per claimed event: queue (Azurite) requests ${requestsPerEvent(a.queue, b.queue, n)}`);
  console.log(`${label} per claimed event: Graph requests ${((b.graph - a.graph) / n).toFixed(2)} (target <= 2; reads and writes travel 20 per $batch)`);
  console.log(`${label} per claimed event: host CPU ${((b.cpuMs - a.cpuMs) / n).toFixed(2)} ms (target < 3; the whole Functions host process: HTTP ingestion, queue polling, processing)`);
  console.log(`${label} per claimed event: host wakeups ${((b.wakeups - a.wakeups) / n).toFixed(2)} (times its JavaScript thread slept and was woken)`);
}

/** A proxy's requests per event between two snapshots: the total, then each kind, most frequent first. */
function requestsPerEvent(a: RequestCounts, b: RequestCounts, n: number, prefix = ""): string {
  const kinds = Object.keys(b.byKind)
    .map((k) => [k, ((b.byKind[k] ?? 0) - (a.byKind[k] ?? 0)) / n] as const)
    .filter(([, v]) => v > 0.005)
    .sort((x, y) => y[1] - x[1]);
  return `${((b.total - a.total) / n).toFixed(2)} (${prefix}${kinds.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")})`;
}

/** Voluntary context switches of a process's main (JavaScript) thread, from /proc (Linux): each one a sleep and a wakeup. */
function wakeupsOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    return Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * What this machine charges a Node.js process for waking from idle with nothing to do: a timer
 * loop in a fresh process, with `gapMs` between wakeups. On this project's VM a wakeup after 20 ms
 * of idle costs several times one after 1 ms (caches cold after idle), so work arriving in
 * ones and twos costs more CPU than the same work in a burst.
 */
function idleWakeupCostUs(gapMs: number, n = 300): number {
  const script = `const c0 = process.cpuUsage(); for (let i = 0; i < ${n}; i++) await new Promise((r) => setTimeout(r, ${gapMs})); const c = process.cpuUsage(c0); console.log((c.user + c.system) / ${n});`;
  return Number(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }).trim());
}

/** User + system CPU of a process, from /proc (Linux). */
function cpuMsOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

/** The id prefix of a phase's events (one app and policy for all phases). */
function phasePrefix(phase: string): string {
  return `bench-${phase}-`;
}

async function latencies(claims: Container, events: Container, phase: string): Promise<number[]> {
  const rows = await claimRows(claims, events, phase);
  return rows.map((r) => r.assigned - r.received);
}

async function claimWindow(claims: Container, events: Container, phase: string): Promise<{ seconds: number }> {
  const rows = await claimRows(claims, events, phase);
  const first = Math.min(...rows.map((r) => r.received));
  const last = Math.max(...rows.map((r) => r.assigned));
  return { seconds: (last - first) / 1000 };
}

async function claimRows(claims: Container, events: Container, phase: string): Promise<{ received: number; assigned: number }[]> {
  const prefix = { name: "@p", value: phasePrefix(phase) };
  const { resources: claimed } = await claims.items
    .query<{ eventId: string; claimedAt: string }>({ query: "SELECT c.eventId, c.claimedAt FROM c WHERE c.type = 'claim' AND STARTSWITH(c.eventId, @p) AND c.status = 'claimed'", parameters: [prefix] })
    .fetchAll();
  const { resources: received } = await events.items
    .query<{ id: string; receivedAt: string }>({ query: "SELECT c.id, c.receivedAt FROM c WHERE STARTSWITH(c.id, @p)", parameters: [prefix] })
    .fetchAll();
  const at = new Map(received.map((r) => [r.id, Date.parse(r.receivedAt)]));
  return claimed.flatMap((c) => {
    const r = at.get(c.eventId);
    return r === undefined ? [] : [{ received: r, assigned: Date.parse(c.claimedAt) }];
  });
}

/**
 * Waits until every event of the phase has its outcome. First the simulated cloud's counters are
 * polled (cheap) until Graph has received nearly `expected` assignLicense calls since `since`; only
 * then Cosmos is asked: a COUNT scans the whole container on the single-threaded local Cosmos
 * server, and polling it every few seconds loaded the server the app was being measured against.
 */
async function waitForClaims(sim: SimAdmin, since: number, events: Container, phase: string, expected: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  let sent = 0;
  while ((sent = (await assignsSent(sim)) - since) < expected * 0.98) {
    if (Date.now() > end) throw new Error(`only ${sent} of ${expected} assignments within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
  let done = 0;
  while ((done = await processedEvents(events, phase)) < expected) {
    if (Date.now() > end) throw new Error(`only ${done} of ${expected} events processed within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function processedEvents(events: Container, phase: string): Promise<number> {
  const { resources } = await events.items
    .query<number>({ query: "SELECT VALUE COUNT(1) FROM c WHERE STARTSWITH(c.id, @p) AND IS_STRING(c.processedAt)", parameters: [{ name: "@p", value: phasePrefix(phase) }] })
    .fetchAll();
  return resources[0] ?? 0;
}

/** The claim handler's log lines (shared/autoclaim/handler.ts): when, time waiting in the queue, time in the handler. */
function handlerTimes(log: string): { at: number; queuedMs: number; ms: number }[] {
  const out: { at: number; queuedMs: number; ms: number }[] = [];
  for (const line of log.split("\n")) {
    if (!line.includes('"event":"sign-in-event"')) continue;
    const at = Date.parse(line.slice(1, line.indexOf("]")));
    const json = line.slice(line.indexOf("{"));
    try {
      const { queuedMs, ms } = JSON.parse(json) as { queuedMs?: number; ms?: number };
      if (typeof queuedMs === "number" && typeof ms === "number" && Number.isFinite(at)) out.push({ at, queuedMs, ms });
    } catch {
      // a line cut by the log's chunking: skipped
    }
  }
  return out;
}

/** The app's events that were not claimed, by outcome (a correct run has none). */
async function notClaimed(events: Container, phase: string): Promise<Map<string, number>> {
  const { resources } = await events.items
    .query<{ status: string; code: string | null }>({
      query: "SELECT c.status, c.code FROM c WHERE STARTSWITH(c.id, @p) AND c.status != 'claimed'",
      parameters: [{ name: "@p", value: phasePrefix(phase) }],
    })
    .fetchAll();
  const byOutcome = new Map<string, number>();
  for (const r of resources) byOutcome.set(`${r.status} ${r.code ?? ""}`.trim(), (byOutcome.get(`${r.status} ${r.code ?? ""}`.trim()) ?? 0) + 1);
  return byOutcome;
}

type SimAdmin = (method: string, path: string) => Promise<unknown>;

/** assignLicense calls Graph has received (alone or inside a $batch). */
async function assignsSent(sim: SimAdmin): Promise<number> {
  const c = (await sim("GET", "counters")) as { graph: { byKind: Record<string, number>; batchItemsByKind: Record<string, number> } };
  return (c.graph.byKind["users.assignLicense"] ?? 0) + (c.graph.batchItemsByKind["users.assignLicense"] ?? 0);
}

/** Raw capacity of Azurite's queue and the Cosmos server, measured directly (no proxy, no app). */
async function rawCapacity(stack: TestStack): Promise<{ queue: number; queueSend: number; writes: number; patches: number }> {
  const n = 2000;
  const queue = new QueueClient(stack.storageConnectionString, `bench-raw-${Date.now()}`);
  await queue.createIfNotExists();
  let t = performance.now();
  await pool(Array.from({ length: n }, (_, i) => i), 16, async (i) => {
    await queue.sendMessage(Buffer.from(JSON.stringify({ i })).toString("base64"));
  });
  const queueSend = n / ((performance.now() - t) / 1000);
  t = performance.now();
  let received = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (;;) {
        const batch = await queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 60 });
        if (batch.receivedMessageItems.length === 0) {
          if (received >= n) return;
          continue;
        }
        await Promise.all(batch.receivedMessageItems.map((m) => queue.deleteMessage(m.messageId, m.popReceipt)));
        received += batch.receivedMessageItems.length;
      }
    }),
  );
  const queueRate = received / ((performance.now() - t) / 1000);
  await queue.delete();

  const client = new CosmosClient({ endpoint: stack.cosmosEndpoint, key: COSMOS_EMULATOR_KEY, connectionPolicy: { enableEndpointDiscovery: false } });
  try {
    const { database } = await client.databases.createIfNotExists({ id: "bench-raw" });
    const { container } = await database.containers.createIfNotExists({ id: "raw", partitionKey: { paths: ["/pk"] } });
    t = performance.now();
    await pool(Array.from({ length: n }, (_, i) => i), 32, async (i) => {
      await container.items.create({ id: `w${i}`, pk: "p", v: i });
    });
    const writes = n / ((performance.now() - t) / 1000);
    await container.items.create({ id: "counter", pk: "p", available: 1_000_000 });
    const patches = 500;
    t = performance.now();
    await pool(Array.from({ length: patches }, (_, i) => i), 32, async () => {
      await container.item("counter", "p").patch({ operations: [{ op: "incr", path: "/available", value: -1 }], condition: "from c where c.available > 0" });
    });
    const patchRate = patches / ((performance.now() - t) / 1000);
    await database.delete();
    return { queue: queueRate, queueSend, writes, patches: patchRate };
  } finally {
    client.dispose();
  }
}

// ---- request counts kept by the services ---------------------------------------------------

interface ServiceCounter {
  snapshot(): Promise<RequestCounts>;
}

/** Reads a local service's request counts (GET /_local/request-counts, LOCAL_COUNT_REQUESTS=1). */
function serviceCounter(baseUrl: string): ServiceCounter {
  return {
    snapshot: async () => {
      const res = await fetch(`${baseUrl}/_local/request-counts`);
      if (!res.ok) throw new Error(`${baseUrl} does not count requests (${res.status})`);
      return (await res.json()) as RequestCounts;
    },
  };
}

// ---- helpers -----------------------------------------------------------------------------

async function addUsers(sim: (m: string, p: string, b?: unknown) => Promise<unknown>, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = randomUUID();
    await sim("POST", "users", { id, userPrincipalName: `warm.${id.slice(0, 13)}@contoso-sim.onmicrosoft.com`, displayName: "Warm-up", usageLocation: "NL" });
    ids.push(id);
  }
  return ids;
}

async function setSetting(stack: TestStack, token: string, kind: string, value: unknown): Promise<void> {
  const path = `/api/tenants/${DEMO_TENANT_ID}/settings/${kind}`;
  const etag = (await stack.call(path, { token })).headers.get("etag") ?? "*";
  await expectOk(await stack.call(path, { method: "PUT", token, body: JSON.stringify(value), headers: { "If-Match": etag } }), `settings ${kind}`);
}

async function expectOk(res: Response, what: string): Promise<void> {
  if (res.status >= 300) throw new Error(`${what}: ${res.status} ${await res.text()}`);
  await res.body?.cancel();
}

/** Starts `work` for each item at `rate` per second (not waiting for one to finish before the next), then waits for all. */
async function atRate<T>(items: readonly T[], rate: number, work: (item: T) => Promise<void>): Promise<void> {
  const started = performance.now();
  const running: Promise<void>[] = [];
  for (let i = 0; i < items.length; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    running.push(work(items[i]!));
  }
  await Promise.all(running);
}

async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < items.length; i = next++) await work(items[i] as T);
    }),
  );
}

function fmtMap(m: Map<number, number>): string {
  return [...m].map(([k, v]) => `${k} x${v}`).join(", ");
}




