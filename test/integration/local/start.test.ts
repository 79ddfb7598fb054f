import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensureDevSigningKey, issueDevToken } from "../../../local/dev-identity.js";
import { repoRoot } from "../../../local/paths.js";
import { localAppSettings } from "../../../local/stack.js";
import { WORKER_NODE_ARGUMENTS } from "../../../local/worker-arguments.js";
import { DEMO_TENANT_ID } from "../../../local/sim-cloud/demo-tenant.js";
import { DIRECTORY_ROLES } from "../../../shared/auth/roles.js";
import { freeStackPorts } from "../../support/stack.js";

let child: ChildProcess | undefined;
afterAll(() => {
  // A test that failed before its SIGINT leaves the script and the services it started: stop them all.
  if (child?.pid && child.exitCode === null) {
    const services = descendants(child.pid);
    child.kill("SIGKILL");
    for (const pid of services) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
  }
});

function descendants(pid: number): number[] {
  const rows = execFileSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of rows) {
      if (pp !== p) continue;
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** Running processes among `pids`, with their command lines (zombies awaiting their reaper count as gone). */
function running(pids: number[]): string[] {
  if (pids.length === 0) return [];
  try {
    return execFileSync("ps", ["-o", "pid=,stat=,args=", "-p", pids.join(",")], { encoding: "utf8" })
      .trim()
      .split("\n")
      .filter((l) => l.trim() && !/^\s*\d+\s+Z/.test(l));
  } catch {
    return []; // ps exits 1 when none of the pids exists
  }
}

async function eventuallyNoneRunning(pids: number[], deadlineMs = 15_000): Promise<string[]> {
  const until = Date.now() + deadlineMs;
  let left = running(pids);
  while (left.length && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    left = running(pids);
  }
  return left;
}

describe("the start script (npm start)", () => {
  it("when started, then health is 200 with every dependency ok and the demo tenant is onboarded; SIGINT leaves no process behind", async () => {
    const ports = await freeStackPorts();
    const dir = mkdtempSync(path.join(tmpdir(), "start-"));
    const settingsFile = path.join(dir, "local.settings.json");
    writeFileSync(settingsFile, JSON.stringify({ IsEncrypted: false, Values: localAppSettings(ports), Host: { LocalHttpPort: ports.host } }));
    // As from a terminal: this process trusts no local CA (the test workers do, through global setup).
    const { NODE_EXTRA_CA_CERTS: _trusted, ...env } = process.env;
    child = spawn(process.execPath, ["--import", "tsx", path.join(repoRoot, "local/start.ts")], {
      cwd: repoRoot,
      env: { ...env, LOCAL_SETTINGS_FILE: settingsFile, AZURITE_LOCATION: path.join(dir, "azurite") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const started = new Promise<void>((resolve, reject) => {
      child!.stdout!.on("data", (d: Buffer) => {
        output += d.toString();
        if (output.includes("Local stack is running")) resolve();
      });
      child!.stderr!.on("data", (d: Buffer) => (output += d.toString()));
      child!.once("exit", (code) => reject(new Error(`start exited early (${code}):\n${output}`)));
    });
    await started;
    expect(output).toContain(DEMO_TENANT_ID);
    expect(output).toContain("npm run token");

    const base = `http://127.0.0.1:${ports.host}`;
    const health = await fetch(`${base}/api/health`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { failed: string[] }).failed).toEqual([]);

    const token = await issueDevToken(await ensureDevSigningKey(), {
      authorityHost: `https://127.0.0.1:${ports.simCloud}/login`,
      audience: "api://license-control-plane",
      tenantId: DEMO_TENANT_ID,
      wids: [DIRECTORY_ROLES["Global Reader"]],
    });
    const tenant = await fetch(`${base}/api/tenants/${DEMO_TENANT_ID}`, { headers: { Authorization: `Bearer ${token}` } });
    expect(tenant.status).toBe(200);

    const spawned = descendants(child.pid!);
    expect(spawned.length).toBeGreaterThanOrEqual(4);
    // The host is the worker process: node runs it with the worker's flags from the settings (languageWorkers__node__arguments).
    const host = running(spawned).filter((l) => l.includes("local/host/main"));
    expect(host).toHaveLength(1);
    expect(host[0]).toMatch(new RegExp(`node ${WORKER_NODE_ARGUMENTS} .*local/host/main`));
    const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(await eventuallyNoneRunning(spawned)).toEqual([]);
  }, 180_000);
});
