/**
 * The local Functions host as it is meant to run: main.ts in its own process, with the fixture app,
 * host.json and local.settings.json, against Azurite.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { QueueClient } from "@azure/storage-queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startAzurite, type ManagedProcess } from "../../../local/services.js";
import type { HostFunction } from "../../../local/host/host.js";
import { fixtureDir, records, runHostToExit, startHostProcess, waitFor, type HostProcess } from "./support.js";

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8").toString("base64");

let azurite: (ManagedProcess & { connectionString: string }) | undefined;
let host: HostProcess | undefined;
let settingsDir: string | undefined;
let hostExitCode: number | null | undefined;

beforeAll(async () => {
  azurite = await startAzurite({ ports: { blob: await freePort(), queue: await freePort(), table: await freePort() } });
  settingsDir = mkdtempSync(path.join(tmpdir(), "host-it-"));
  writeFileSync(
    path.join(settingsDir, "local.settings.json"),
    JSON.stringify({
      IsEncrypted: false,
      Values: { FUNCTIONS_WORKER_RUNTIME: "node", AzureWebJobsStorage: azurite.connectionString, JOBS_QUEUE: "jobs", NIGHTLY_SCHEDULE: "0 0 3 * * *" },
    }),
  );
  const port = await freePort();
  host = await startHostProcess([
    "--app", "test/fixtures/host-app/index.ts",
    "--port", String(port),
    "--host-json", path.join(fixtureDir, "host.json"),
    "--settings", settingsDir,
  ]);
});

afterAll(async () => {
  hostExitCode = await host?.stop();
  await azurite?.stop();
  if (settingsDir) rmSync(settingsDir, { recursive: true, force: true });
  // A clean stop: SIGTERM makes the host exit 0 without leftover handles.
  if (host) {
    expect(hostExitCode).toBe(0);
    expect(host.output()).not.toMatch(/handles still open/);
  }
});

describe("local Functions host (own process)", () => {
  it("announces itself and prints the function table", () => {
    expect(host!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(host!.output()).toMatch(/getItem: \[GET\] http:\/\/127\.0\.0\.1:\d+\/api\/items\/\{id:int\}\/\{detail\?\}/);
    expect(host!.output()).toMatch(/nightly: timerTrigger \(schedule '0 0 3 \* \* \*'\)/);
    expect(host!.output()).toMatch(/jobs: queueTrigger \(queue 'jobs'\)/);
  });

  it("lists the captured functions with their resolved settings", async () => {
    const list = (await (await fetch(`${host!.url}/admin/functions`)).json()) as HostFunction[];
    const byName = Object.fromEntries(list.map((f) => [f.name, f]));
    expect(list.filter((f) => f.name !== "dupB").every((f) => f.state === "active")).toBe(true); // dupB: its route conflicts with dupA's
    expect(byName.getItem).toMatchObject({ trigger: "http", route: "items/{id:int}/{detail?}", methods: ["GET"], authLevel: "anonymous", url: `${host!.url}/api/items/{id:int}/{detail?}` });
    expect(byName.nightly).toMatchObject({ trigger: "timer", schedule: "%NIGHTLY_SCHEDULE%", resolvedSchedule: "0 0 3 * * *" });
    expect(byName.jobs).toMatchObject({ trigger: "queue", queueName: "%JOBS_QUEUE%", resolvedQueueName: "jobs", connection: "" });
    const root = (await (await fetch(`${host!.url}/`)).json()) as { functions: HostFunction[] };
    expect(root.functions.map((f) => f.name)).toEqual(list.map((f) => f.name));
  });

  describe("HTTP", () => {
    it("routes with constraints, optional parameters, query and headers", async () => {
      const res = await fetch(`${host!.url}/api/items/42/full?x=1&x=2`, { headers: { "x-test": "hello" } });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/json");
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ id: "42", detail: "full", x: "1,2", header: "hello", functionName: "getItem", url: `${host!.url}/api/items/42/full?x=1&x=2` });
      expect(body.invocationId).toMatch(/^[0-9a-f-]{36}$/);

      const short = (await (await fetch(`${host!.url}/API/Items/7`)).json()) as Record<string, unknown>;
      expect(short).toMatchObject({ id: "7", detail: null });
    });

    it("answers 404 when nothing matches, including a failed constraint", async () => {
      expect((await fetch(`${host!.url}/api/items/abc`)).status).toBe(404);
      expect((await fetch(`${host!.url}/api/unknown`)).status).toBe(404);
      expect((await fetch(`${host!.url}/items/42`)).status).toBe(404); // no route prefix
    });

    it("answers 404 for a known route with another method, as Azure does", async () => {
      const res = await fetch(`${host!.url}/api/items/42`, { method: "DELETE" });
      expect(res.status).toBe(404);
    });

    it("echoes JSON with a custom status, headers and cookies (HttpResponseInit)", async () => {
      const res = await fetch(`${host!.url}/api/echo`, { method: "POST", body: JSON.stringify({ a: [1, 2], b: "ü" }), headers: { "content-type": "application/json" } });
      expect(res.status).toBe(201);
      expect(res.headers.get("x-echo")).toBe("yes");
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(res.headers.getSetCookie()).toEqual(["session=abc; Path=/; HttpOnly"]);
      expect(await res.json()).toEqual({ received: { a: [1, 2], b: "ü" } });
    });

    it("writes an HttpResponse instance, with a repeated header", async () => {
      const res = await fetch(`${host!.url}/api/text`);
      expect(res.status).toBe(202);
      expect(res.headers.get("x-multi")).toBe("a, b");
      expect(res.headers.get("content-type")).toBe("text/plain");
      expect(await res.text()).toBe("plain text");
    });

    it("answers 500 without details when a handler throws, and logs the error", async () => {
      const res = await fetch(`${host!.url}/api/boom`);
      expect(res.status).toBe(500);
      expect(await res.text()).toBe("");
      await waitFor("the failure in the log", () => /Executed 'Functions\.boom' \(Failed[\s\S]*kaboom: handler failure/.test(host!.output()));
      expect(host!.output()).toMatch(/\[boom\] warn: about to fail/);
    });

    it("answers 204 when a handler returns nothing", async () => {
      const res = await fetch(`${host!.url}/api/nothing`);
      expect(res.status).toBe(204);
    });

    it("matches a catch-all parameter", async () => {
      expect(await (await fetch(`${host!.url}/api/files/a/b/c.txt`)).json()).toEqual({ path: "a/b/c.txt" });
    });

    it("serves requests concurrently", async () => {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => fetch(`${host!.url}/api/items/${i}`).then((r) => r.json() as Promise<{ id: string }>)));
      expect(results.map((r) => r.id)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    });
  });

  describe("timers", () => {
    it("runs a timer through the admin endpoint, with the extension's TimerInfo", async () => {
      const res = await fetch(`${host!.url}/admin/functions/nightly`, { method: "POST", body: JSON.stringify({ input: "" }), headers: { "content-type": "application/json" } });
      expect(res.status).toBe(202);
      const [run] = await waitFor("the nightly run", async () => {
        const r = await records(host!.url, "nightly");
        return r.length > 0 && r;
      });
      expect(run!.input).toEqual({
        schedule: { adjustForDST: true },
        scheduleStatus: { last: "0001-01-01T00:00:00", next: expect.stringMatching(/T03:00:00\.000Z$/) as unknown, lastUpdated: "0001-01-01T00:00:00" },
        isPastDue: false,
      });
      expect((await fetch(`${host!.url}/admin/functions/nope`, { method: "POST" })).status).toBe(404);
    });

    it("runs a runOnStartup timer when the host starts", async () => {
      const [run] = await waitFor("the onStartup run", async () => {
        const r = await records(host!.url, "onStartup");
        return r.length > 0 && r;
      });
      // Monitored schedule: the status before this first run has no Last yet.
      expect(run!.input).toMatchObject({ isPastDue: false, scheduleStatus: { last: "0001-01-01T00:00:00" } });
    });

    it("runs a timer on its schedule, never overlapping itself", async () => {
      const runs = await waitFor("three completed runs of everySecond", async () => {
        const r = (await records(host!.url, "everySecond")).filter((x) => x.endedAt);
        return r.length >= 3 && r;
      });
      for (let i = 1; i < runs.length; i++) expect(Date.parse(runs[i]!.at)).toBeGreaterThanOrEqual(Date.parse(runs[i - 1]!.endedAt!));
      // Sub-minute schedules run without schedule monitoring: no ScheduleStatus, as in Azure.
      expect(runs[0]!.input).toEqual({ schedule: { adjustForDST: true }, scheduleStatus: null, isPastDue: false });
    });
  });

  describe("storage queues", () => {
    it("delivers a base64 message JSON-parsed, with the trigger metadata", async () => {
      const queue = new QueueClient(azurite!.connectionString, "jobs");
      await waitFor("the host to create the queue", async () => (await queue.exists()) || undefined);
      const sent = await queue.sendMessage(b64({ kind: "hello", marker: "m1", n: 1 }));
      const [rec] = await waitFor("the message", async () => {
        const r = (await records(host!.url, "jobs")).filter((x) => (x.input as { marker?: string }).marker === "m1");
        return r.length > 0 && r;
      });
      expect(rec!.input).toEqual({ kind: "hello", marker: "m1", n: 1 });
      expect(rec!.triggerMetadata).toMatchObject({
        id: sent.messageId,
        dequeueCount: 1,
        queueTrigger: { kind: "hello", marker: "m1", n: 1 },
        popReceipt: expect.any(String) as unknown,
        insertionTime: expect.stringMatching(/^\d{4}-/) as unknown,
        expirationTime: expect.stringMatching(/^\d{4}-/) as unknown,
        nextVisibleTime: expect.stringMatching(/^\d{4}-/) as unknown,
      });
      await waitFor("the message to be deleted", async () => (await queue.peekMessages()).peekedMessageItems.length === 0 || undefined);
    });

    it("retries a failing message and moves it to <queue>-poison after maxDequeueCount, unchanged", async () => {
      const queue = new QueueClient(azurite!.connectionString, "jobs");
      const poison = new QueueClient(azurite!.connectionString, "jobs-poison");
      const original = b64({ fail: true, marker: "p1" });
      await queue.sendMessage(original);
      const poisoned = await waitFor("the poison message", async () => {
        const items = (await poison.peekMessages({ numberOfMessages: 32 })).peekedMessageItems;
        return items.find((m) => m.messageText === original);
      });
      expect(JSON.parse(Buffer.from(poisoned.messageText, "base64").toString("utf8"))).toEqual({ fail: true, marker: "p1" });
      const attempts = (await records(host!.url, "jobs")).filter((x) => (x.input as { marker?: string }).marker === "p1");
      expect(attempts.map((a) => a.triggerMetadata?.dequeueCount)).toEqual([1, 2]);
      expect(host!.output()).toMatch(/Message has reached MaxDequeueCount of 2\. Moving message to queue 'jobs-poison'\./);
    });

    it("poisons at once a message that is not base64", async () => {
      const queue = new QueueClient(azurite!.connectionString, "jobs");
      const poison = new QueueClient(azurite!.connectionString, "jobs-poison");
      await queue.sendMessage("{not base64}");
      await waitFor("the undecodable message in the poison queue", async () =>
        (await poison.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.some((m) => m.messageText === "{not base64}") || undefined,
      );
    });

    it("writes a storage-queue output binding (base64), which the queue trigger then receives", async () => {
      const res = await fetch(`${host!.url}/api/enqueue`, { method: "POST", body: JSON.stringify({ marker: "out1" }) });
      expect(res.status).toBe(202);
      await waitFor("the message written by the output binding", async () =>
        (await records(host!.url, "jobs")).some((x) => (x.input as { marker?: string }).marker === "out1") || undefined,
      );
    });
  });

  it("exits 1 with the app's message when the app fails to load", async () => {
    const port = await freePort();
    const { code, output } = await runHostToExit(["--app", "test/fixtures/host-app/broken.ts", "--port", String(port), "--host-json", path.join(fixtureDir, "host.json")], {
      HOST_FIXTURE_REQUIRED_SETTING: "",
    });
    expect(code).toBe(1);
    expect(output).toMatch(/Worker was unable to load entry point "broken\.ts": Configuration error: HOST_FIXTURE_REQUIRED_SETTING is not set/);
    expect(output).not.toMatch(/FUNCTIONS_HOST_READY/);
  });

  it("exits 1 on an invalid host.json", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "host-bad-"));
    try {
      writeFileSync(path.join(dir, "host.json"), JSON.stringify({ extensions: {} }));
      const { code, output } = await runHostToExit(["--app", "test/fixtures/host-app/index.ts", "--port", "0", "--host-json", path.join(dir, "host.json")]);
      expect(code).toBe(1);
      expect(output).toMatch(/"version" must be "2\.0"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
