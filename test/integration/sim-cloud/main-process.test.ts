import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { repoRoot } from "../../../local/paths.js";

let child: ChildProcess | undefined;
afterEach(() => {
  if (child?.pid && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  child = undefined;
});

/** Starts main.ts as its own process; resolves with its URL once it prints SIM_CLOUD_READY. */
function startProcess(env: Record<string, string> = {}): Promise<{ url: string; exited: Promise<number | null> }> {
  child = spawn(process.execPath, ["--import", "tsx", path.join(repoRoot, "local/sim-cloud/main.ts"), "--port", "0"], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const proc = child;
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    proc.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /SIM_CLOUD_READY (\S+)/.exec(out);
      if (m?.[1]) resolve({ url: m[1], exited });
    });
    proc.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    void exited.then((code) => reject(new Error(`sim-cloud exited (${String(code)}) before it was ready:\n${out}\n${err}`)));
  });
}

describe("the sim-cloud process (local/sim-cloud/main.ts)", () => {
  it("when started with --port 0, then it prints SIM_CLOUD_READY, serves the JWKS, and exits 0 on SIGTERM", async () => {
    const { url, exited } = await startProcess({ SIM_CLOUD_LATENCY_MS: "5", SIM_CLOUD_SEED: "99" });
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const keys = await fetch(`${url}/login/common/discovery/v2.0/keys`);
    expect(keys.status).toBe(200);
    const settings = (await (await fetch(`${url}/_admin/settings`)).json()) as { latencyMs: { graph: number }; seed: number };
    expect(settings.latencyMs.graph).toBe(5);
    expect(settings.seed).toBe(99);
    child?.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("when SIM_CLOUD_FIXTURE names a fixture file, then that tenant is served", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sim-fixture-"));
    const file = path.join(dir, "tenant.json");
    const tenantId = "7d0e4b1c-2a3f-4c5d-8e6f-9a0b1c2d3e4f";
    writeFileSync(file, JSON.stringify({
      tenant: { id: tenantId, displayName: "Fixture tenant", defaultDomain: "fixture.onmicrosoft.com" },
      users: [{ id: "7d0e4b1c-2a3f-4c5d-8e6f-000000000001", userPrincipalName: "a@fixture.onmicrosoft.com", displayName: "A" }],
    }));
    const { url, exited } = await startProcess({ SIM_CLOUD_FIXTURE: file, SIM_CLOUD_FAULT_RATE: "0.5" });
    const health = (await (await fetch(`${url}/_admin/summary`)).json()) as { tenantId: string; users: number };
    expect(health).toMatchObject({ tenantId, users: 1 });
    const settings = (await (await fetch(`${url}/_admin/settings`)).json()) as { faults: Array<{ rate429: number }> };
    expect(settings.faults[0]?.rate429).toBe(0.5);
    child?.kill("SIGINT");
    expect(await exited).toBe(0);
  });

  it("when the fixture is invalid, then the process exits non-zero with the problem", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sim-fixture-"));
    const file = path.join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ tenant: { id: "not-a-guid" } }));
    await expect(startProcess({ SIM_CLOUD_FIXTURE: file })).rejects.toThrow(/Invalid tenant fixture/);
  });
});
