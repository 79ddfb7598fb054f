import { describe, expect, it } from "vitest";
import { typedDataToStrings } from "../../../local/host/invoke.js";
import { PollingBackoff } from "../../../local/host/queues.js";
import { decodeMessage, encodeMessage, normaliseQueueName, storageConnectionString } from "../../../local/host/storage.js";

describe("queue polling back-off", () => {
  it("grows from about 200 ms up to maxPollingInterval and resets when messages are found", () => {
    const backoff = new PollingBackoff(2000, () => 0.5); // no jitter
    const delays = Array.from({ length: 7 }, () => backoff.next(false));
    expect(delays).toEqual([200, 300, 500, 900, 1700, 2000, 2000]);
    expect(backoff.next(true)).toBe(100);
    expect(backoff.next(false)).toBe(200);
  });
});

describe("message encoding", () => {
  it("round-trips base64 and passes text through with 'none'", () => {
    const text = JSON.stringify({ hello: "wörld" });
    expect(decodeMessage(encodeMessage(text, "base64"), "base64")).toBe(text);
    expect(encodeMessage(text, "none")).toBe(text);
  });

  it("reports text that is not base64 (the host poisons it)", () => {
    expect(decodeMessage("not base64!", "base64")).toBeUndefined();
    expect(decodeMessage("{\"a\":1}", "base64")).toBeUndefined();
  });
});

describe("queue names and connections", () => {
  it("lower-cases and validates queue names", () => {
    expect(normaliseQueueName("Provisioning-Jobs")).toBe("provisioning-jobs");
    for (const bad of ["ab", "-abc", "abc-", "a--b", "has_underscore", "x".repeat(64)]) expect(() => normaliseQueueName(bad), bad).toThrow();
  });

  it("finds the connection string like the WebJobs SDK", () => {
    expect(storageConnectionString("", { AzureWebJobsStorage: "default" })).toBe("default");
    expect(storageConnectionString(undefined, { AzureWebJobsStorage: "default" })).toBe("default");
    expect(storageConnectionString("Jobs", { Jobs: "plain" })).toBe("plain");
    expect(storageConnectionString("Jobs", { Jobs: "plain", AzureWebJobsJobs: "prefixed" })).toBe("prefixed");
    expect(() => storageConnectionString("Jobs", {})).toThrow(/'Jobs' does not exist/);
    expect(() => storageConnectionString("Jobs", { Jobs__queueServiceUri: "https://x" })).toThrow(/identity-based/);
  });
});

describe("output binding values", () => {
  it("writes one message per array element, strings as-is and objects as JSON", () => {
    expect(typedDataToStrings({ string: "a" })).toEqual(["a"]);
    expect(typedDataToStrings({ json: JSON.stringify({ a: 1 }) })).toEqual(['{"a":1}']);
    expect(typedDataToStrings({ json: JSON.stringify(["x", { b: 2 }]) })).toEqual(["x", '{"b":2}']);
    expect(typedDataToStrings({ int: 5 })).toEqual(["5"]);
    expect(typedDataToStrings(undefined)).toEqual([]);
  });
});
