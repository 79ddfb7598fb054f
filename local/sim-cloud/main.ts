/**
 * Runs the simulated Microsoft cloud as its own process:
 *   node --import tsx local/sim-cloud/main.ts --port 8443      (or node dist/local/sim-cloud/main.js)
 * Prints `SIM_CLOUD_READY <url>` once listening; SIGTERM / SIGINT stop it cleanly.
 * Environment: SIM_CLOUD_LATENCY_MS, SIM_CLOUD_FAULT_RATE, SIM_CLOUD_503_RATE, SIM_CLOUD_TIMEOUT_RATE,
 * SIM_CLOUD_SEED, SIM_CLOUD_FIXTURE (path of a fixture JSON), SIM_CLOUD_RATE_LIMITS=off,
 * SIM_CLOUD_LARGE_USERS / SIM_CLOUD_LARGE_GROUP_MEMBERS (generate the large benchmark tenant).
 */
import { parseArgs } from "node:util";
import { ensureDevSigningKey } from "../dev-identity.js";
import { ensureLocalTls } from "../tls.js";
import { buildLargeTenant } from "./demo-tenant.js";
import { startSimCloud, type FaultRuleInput, type SimCloudOptions } from "./server.js";
import { loadFixtureFile } from "./state/fixture.js";

function numberFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got '${raw}'.`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: "string", default: process.env.SIM_CLOUD_PORT ?? "8443" } } });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got '${values.port}'.`);

  const tls = ensureLocalTls();
  const signingKey = await ensureDevSigningKey();
  const options: SimCloudOptions = { port, tls, signingKey };

  const latency = numberFromEnv("SIM_CLOUD_LATENCY_MS");
  if (latency !== undefined) options.latencyMs = latency;
  const rule: FaultRuleInput = {};
  const rate429 = numberFromEnv("SIM_CLOUD_FAULT_RATE");
  const rate503 = numberFromEnv("SIM_CLOUD_503_RATE");
  const rateTimeout = numberFromEnv("SIM_CLOUD_TIMEOUT_RATE");
  if (rate429 !== undefined) rule.rate429 = rate429;
  if (rate503 !== undefined) rule.rate503 = rate503;
  if (rateTimeout !== undefined) rule.rateTimeout = rateTimeout;
  if (Object.keys(rule).length) options.faults = [rule];
  const seed = numberFromEnv("SIM_CLOUD_SEED");
  if (seed !== undefined) options.seed = Math.floor(seed);
  if (process.env.SIM_CLOUD_RATE_LIMITS === "off") options.rateLimits = false;

  const fixtureFile = process.env.SIM_CLOUD_FIXTURE;
  const largeUsers = numberFromEnv("SIM_CLOUD_LARGE_USERS");
  if (fixtureFile) options.fixture = loadFixtureFile(fixtureFile);
  else if (largeUsers !== undefined) {
    options.fixture = buildLargeTenant({ users: largeUsers, groupMembers: numberFromEnv("SIM_CLOUD_LARGE_GROUP_MEMBERS") });
  }

  const sim = await startSimCloud(options);
  process.stdout.write(`SIM_CLOUD_READY ${sim.url}\n`);
  process.stdout.write(`  tenant ${sim.tenantId}; Graph ${sim.graphBaseUrl}/v1.0, Power Platform ${sim.bapBaseUrl}, authority ${sim.authorityHost}, admin ${sim.url}/_admin\n`);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    sim.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`sim-cloud failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
