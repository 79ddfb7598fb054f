import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  loadLocalSettings,
  parseHostJson,
  parseJsonWithComments,
  parseTimeSpan,
  resolveSettingPlaceholders,
} from "../../../local/host/config.js";

describe("TimeSpan parsing (.NET TimeSpan.Parse)", () => {
  it("reads hh:mm:ss, fractions and days", () => {
    expect(parseTimeSpan("00:01:00")).toBe(60_000);
    expect(parseTimeSpan("00:00:00.100")).toBe(100);
    expect(parseTimeSpan("00:00:02.5")).toBe(2500);
    expect(parseTimeSpan("1.02:03:04")).toBe(((26 * 60 + 3) * 60 + 4) * 1000);
    expect(parseTimeSpan("01:30")).toBe(90 * 60_000);
  });

  it("reads a bare number as days, as the host does (a classic misconfiguration)", () => {
    expect(parseTimeSpan(2000)).toBe(2000 * 86_400_000);
  });

  it("rejects nonsense", () => {
    expect(() => parseTimeSpan("1 minute")).toThrow();
    expect(() => parseTimeSpan("00:61:00")).toThrow(/out of range/);
  });
});

describe("host.json", () => {
  it("applies the host's defaults", () => {
    const h = parseHostJson({ version: "2.0" });
    expect(h.routePrefix).toBe("api");
    expect(h.queues).toEqual({
      batchSize: 16,
      newBatchThreshold: 8,
      maxPollingIntervalMs: 60_000,
      visibilityTimeoutMs: 0,
      maxDequeueCount: 5,
      messageEncoding: "base64",
    });
  });

  it("reads extensions.http and extensions.queues, keys case-insensitively", () => {
    const h = parseHostJson({
      version: "2.0",
      Extensions: {
        http: { routePrefix: "/v1/" },
        Queues: { MaxPollingInterval: "00:00:02", visibilityTimeout: "00:00:30", batchSize: 4, maxDequeueCount: 3, newBatchThreshold: 1, messageEncoding: "None" },
      },
      functions: ["a", "b"],
    });
    expect(h.routePrefix).toBe("v1");
    expect(h.queues).toEqual({ batchSize: 4, newBatchThreshold: 1, maxPollingIntervalMs: 2000, visibilityTimeoutMs: 30_000, maxDequeueCount: 3, messageEncoding: "none" });
    expect(h.functions).toEqual(["a", "b"]);
  });

  it("allows an empty route prefix", () => {
    expect(parseHostJson({ version: "2.0", extensions: { http: { routePrefix: "" } } }).routePrefix).toBe("");
  });

  it("rejects what the host rejects", () => {
    expect(() => parseHostJson({})).toThrow(/version/);
    expect(() => parseHostJson({ version: "2.0", extensions: { queues: { batchSize: 64 } } })).toThrow(/batchSize/);
    expect(() => parseHostJson({ version: "2.0", extensions: { queues: { maxPollingInterval: "00:00:00.050" } } })).toThrow(/maxPollingInterval/);
    expect(() => parseHostJson({ version: "2.0", extensions: { queues: { messageEncoding: "utf8" } } })).toThrow(/messageEncoding/);
  });

  it("accepts comments, as the host's JSON reader does", () => {
    const json = parseJsonWithComments('{\n // a comment\n "version": "2.0", /* block */ "x": "http://not-a-comment" }', "host.json");
    expect(json).toEqual({ version: "2.0", x: "http://not-a-comment" });
  });
});

describe("local.settings.json", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  function write(content: unknown): string {
    dir = mkdtempSync(path.join(tmpdir(), "host-settings-"));
    writeFileSync(path.join(dir, "local.settings.json"), typeof content === "string" ? content : JSON.stringify(content));
    return dir;
  }

  it("puts Values into the environment without overriding variables already set", () => {
    const env: NodeJS.ProcessEnv = { ALREADY: "from-env" };
    const result = loadLocalSettings(
      write({ IsEncrypted: false, Values: { ALREADY: "from-file", NEW_ONE: "x", COUNT: 3, FLAG: true }, Host: { LocalHttpPort: 7072, CORS: "http://localhost:3000, *" } }),
      env,
    );
    expect(env).toEqual({ ALREADY: "from-env", NEW_ONE: "x", COUNT: "3", FLAG: "true" });
    expect(result.applied.sort()).toEqual(["COUNT", "FLAG", "NEW_ONE"]);
    expect(result.skipped).toEqual(["ALREADY"]);
    expect(result.localHttpPort).toBe(7072);
    expect(result.cors).toEqual(["http://localhost:3000", "*"]);
  });

  it("is optional", () => {
    dir = mkdtempSync(path.join(tmpdir(), "host-settings-"));
    expect(loadLocalSettings(dir, {})).toEqual({ applied: [], skipped: [] });
  });

  it("rejects encrypted files and non-string values", () => {
    expect(() => loadLocalSettings(write({ IsEncrypted: true, Values: {} }), {})).toThrow(/encrypted/);
    expect(() => loadLocalSettings(write({ Values: { A: { nested: 1 } } }), {})).toThrow(/Values.A/);
  });
});

describe("%Setting% placeholders", () => {
  it("resolves from app settings and fails on a missing one", () => {
    expect(resolveSettingPlaceholders("%Q%-x", { Q: "jobs" })).toBe("jobs-x");
    expect(resolveSettingPlaceholders("0 */5 * * * *", {})).toBe("0 */5 * * * *");
    expect(() => resolveSettingPlaceholders("%MISSING%", {})).toThrow(/does not resolve/);
  });
});

describe("the app's host.json", () => {
  it("gives a Service Bus trigger as many messages in flight per instance as a storage queue trigger (claims in flight fill the Graph $batches)", () => {
    const hostJson = parseJsonWithComments(readFileSync(new URL("../../../host.json", import.meta.url), "utf8"), "host.json") as {
      extensions: { queues: { batchSize: number; newBatchThreshold: number }; serviceBus: { maxConcurrentCalls: number } };
    };
    const { queues, serviceBus } = hostJson.extensions;
    expect(serviceBus.maxConcurrentCalls).toBe(queues.batchSize + queues.newBatchThreshold);
  });
});
