/**
 * startFunctionsHost() in the test process: the programmatic API (triggerTimer, runFunction,
 * close), options (405 for a method mismatch), local.settings.json (Values, CORS), logging, and a
 * storage account that cannot be reached (the host keeps running).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../../local/services.js";
import { startFunctionsHost, type FunctionsHost } from "../../../local/host/host.js";
import type { HostLogEntry } from "../../../local/host/log.js";
import { fixtureDir, records, waitFor } from "./support.js";

let host: FunctionsHost | undefined;
let settingsDir: string | undefined;
const logs: HostLogEntry[] = [];

beforeAll(async () => {
  const deadPort = await freePort(); // nothing listens there: storage is "down"
  settingsDir = mkdtempSync(path.join(tmpdir(), "host-inproc-"));
  writeFileSync(
    path.join(settingsDir, "local.settings.json"),
    JSON.stringify({
      Values: {
        AzureWebJobsStorage: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${Buffer.from("k").toString("base64")};QueueEndpoint=http://127.0.0.1:${deadPort}/devstoreaccount1`,
        JOBS_QUEUE: "jobs",
      },
      Host: { CORS: "http://localhost:3000" },
    }),
  );
  host = await startFunctionsHost({
    appEntry: path.join(fixtureDir, "index.ts"),
    port: 0,
    hostJsonPath: path.join(fixtureDir, "host.json"),
    settingsDir,
    env: { NIGHTLY_SCHEDULE: "0 30 2 * * *", "AzureWebJobs.files.Disabled": "true" },
    methodMismatchStatus: 405,
    log: (entry) => logs.push(entry),
    printTable: false,
  });
});

afterAll(async () => {
  await host?.close();
  if (settingsDir) rmSync(settingsDir, { recursive: true, force: true });
});

describe("startFunctionsHost (in process)", () => {
  it("returns the url and the function table", () => {
    expect(host!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const nightly = host!.functions.find((f) => f.name === "nightly");
    expect(nightly).toMatchObject({ state: "active", schedule: "%NIGHTLY_SCHEDULE%", resolvedSchedule: "0 30 2 * * *" });
    expect(host!.functions.find((f) => f.name === "jobs")).toMatchObject({ state: "active", resolvedQueueName: "jobs" });
  });

  it("tries routes in function-name order as the Functions host does: an earlier name's template wins over a later name's literal", async () => {
    expect(await (await fetch(`${host!.url}/api/catalog/latest`)).json()).toEqual({ fn: "catalogItem", name: "latest" });
    expect(await (await fetch(`${host!.url}/api/catalog/other`)).json()).toEqual({ fn: "catalogItem", name: "other" });
  });

  it("puts a function whose route conflicts with an earlier name's in error, and serves the earlier one", async () => {
    expect(host!.functions.find((f) => f.name === "dupB")).toMatchObject({ state: "error", error: expect.stringContaining("conflicts with the route defined by function 'dupA'") as string });
    expect(await (await fetch(`${host!.url}/api/dup`)).json()).toEqual({ fn: "dupA" });
    expect((await fetch(`${host!.url}/api/dup`, { method: "POST" })).status).toBe(405);
  });

  it("does not serve a function disabled with AzureWebJobs.<name>.Disabled", async () => {
    expect(host!.functions.find((f) => f.name === "files")?.state).toBe("disabled");
    expect((await fetch(`${host!.url}/api/files/a`)).status).toBe(404);
    expect((await fetch(`${host!.url}/admin/functions/files`, { method: "POST" })).status).toBe(404);
  });

  it("answers 405 for a known route with another method when asked to", async () => {
    expect((await fetch(`${host!.url}/api/items/1`, { method: "POST" })).status).toBe(405);
    expect((await fetch(`${host!.url}/api/items/x`, { method: "POST" })).status).toBe(404);
  });

  it("prints user logs with the function name", async () => {
    await fetch(`${host!.url}/api/items/5`);
    const entry = await waitFor("the user log", () => logs.find((l) => l.category === "user" && l.message === "getItem 5"));
    expect(entry).toMatchObject({ functionName: "getItem", level: "information" });
    expect(entry.invocationId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("runs a timer now and resolves when it has finished", async () => {
    const outcome = await host!.triggerTimer("nightly");
    expect(outcome.succeeded).toBe(true);
    const runs = await records(host!.url, "nightly");
    expect(runs.map((r) => r.invocationId)).toContain(outcome.invocationId);
    await expect(host!.triggerTimer("getItem")).rejects.toThrow(/No active timer/);
  });

  it("runs a queue function with an input, like the admin endpoint", async () => {
    const outcome = await host!.runFunction("jobs", JSON.stringify({ marker: "direct" }));
    expect(outcome.succeeded).toBe(true);
    const rec = (await records(host!.url, "jobs")).find((r) => r.invocationId === outcome.invocationId);
    expect(rec?.input).toEqual({ marker: "direct" });
    expect(rec?.triggerMetadata).toMatchObject({ dequeueCount: 0, queueTrigger: { marker: "direct" } });
    const failed = await host!.runFunction("jobs", { fail: true });
    expect(failed.succeeded).toBe(false);
  });

  it("keeps running when the storage account cannot be reached", async () => {
    await waitFor("a polling warning", () => logs.some((l) => l.level === "warning" && /Polling queue 'jobs'/.test(l.message)));
    expect((await fetch(`${host!.url}/admin/host/status`)).status).toBe(200);
  });

  it("applies Host.CORS from local.settings.json", async () => {
    const preflight = await fetch(`${host!.url}/api/echo`, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:3000", "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
    expect(preflight.headers.get("access-control-allow-methods")).toBe("POST");
    const res = await fetch(`${host!.url}/api/items/1`, { headers: { origin: "http://localhost:3000" } });
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
    const other = await fetch(`${host!.url}/api/items/1`, { headers: { origin: "http://evil.example" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("stops: no more requests, timers and queue polling end", async () => {
    const h = host!;
    host = undefined;
    await h.close();
    await expect(fetch(`${h.url}/api/items/1`)).rejects.toThrow();
    expect(logs.some((l) => l.message === "Host stopped")).toBe(true);
    const runsAtStop = h.functions.find((f) => f.name === "everySecond")!.runs;
    await new Promise((r) => setTimeout(r, 1500));
    expect(h.functions.find((f) => f.name === "everySecond")!.runs).toBe(runsAtStop);
  });
});
