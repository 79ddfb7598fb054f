import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { DEMO_IDS } from "../../../local/sim-cloud/demo-tenant.js";
import { parseBatchResponse } from "../../../shared/clients/dataverse.js";
import { startTestSim, type TestSim } from "./support.js";

let t: TestSim;
beforeAll(async () => {
  t = await startTestSim({ rateLimits: false, seed: 7 });
});
afterAll(async () => {
  await t.sim.close();
});
beforeEach(() => {
  t.sim.reset();
  t.sim.updateSettings({
    faults: [],
    latencyMs: 0,
    rateLimits: { graph: { enabled: false }, dataverse: { enabled: false }, bap: { enabled: false } },
  });
});

const ENV = DEMO_IDS.environments.production;
const userUrl = () => `${t.sim.graphBaseUrl}/v1.0/users/${DEMO_IDS.users.globalAdmin}`;
const whoAmI = () => `${t.sim.dataverseUrl(ENV)}api/data/v9.2/WhoAmI`;

async function statuses(n: number, url: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await t.call(url);
    await res.arrayBuffer();
    out.push(res.status);
  }
  return out;
}

describe("rate limits", () => {
  it("when Graph requests exceed the resource units of the window, then Graph answers 429 with Retry-After in seconds", async () => {
    t.sim.updateSettings({ rateLimits: { graph: { enabled: true, unitsPerWindow: 6, windowSeconds: 300 } } });
    expect(await statuses(3, userUrl())).toEqual([200, 200, 200]);
    const res = await t.call(userUrl());
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(300);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("TooManyRequests");
    expect(t.sim.counters().graph.throttled).toBe(1);
  });

  it("when Graph writes exceed the write budget, then writes are throttled while reads still pass", async () => {
    t.sim.updateSettings({ rateLimits: { graph: { enabled: true, unitsPerWindow: 1000, windowSeconds: 300, writesPerWindow: 1, writeWindowSeconds: 300 } } });
    const post = () => t.call(`${userUrl()}/assignLicense`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ addLicenses: [], removeLicenses: [] }) });
    expect((await post()).status).toBe(200);
    expect((await post()).status).toBe(429);
    expect((await t.call(userUrl())).status).toBe(200);
  });

  it("when Dataverse requests exceed the per-window count, then 429 with the service-protection error code and Retry-After", async () => {
    t.sim.updateSettings({ rateLimits: { dataverse: { enabled: true, requestsPerWindow: 3, windowSeconds: 300 } } });
    expect(await statuses(3, whoAmI())).toEqual([200, 200, 200]);
    const res = await t.call(whoAmI());
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("0x80072322");
  });

  it("when the simulated execution time of Dataverse requests exceeds the budget, then 429 0x80072321", async () => {
    t.sim.updateSettings({ rateLimits: { dataverse: { enabled: true, requestsPerWindow: 1000, executionMsPerWindow: 250, msPerRead: 100, windowSeconds: 300 } } });
    expect(await statuses(3, whoAmI())).toEqual([200, 200, 200]);
    const res = await t.call(whoAmI());
    expect(res.status).toBe(429);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("0x80072321");
  });

  it("when more Dataverse requests are in flight than allowed, then the extra one is refused with 429 0x80072326", async () => {
    t.sim.updateSettings({ latencyMs: { dataverse: 60_000 }, rateLimits: { dataverse: { enabled: true, maxConcurrent: 2 } } });
    const abort = new AbortController();
    const slow = [t.call(whoAmI(), { signal: abort.signal }), t.call(whoAmI(), { signal: abort.signal })].map((p) => p.catch(() => null));
    await vi.waitFor(() => expect(t.sim.counters().dataverse.requests).toBe(2), { timeout: 10_000, interval: 10 });
    const res = await t.call(whoAmI());
    expect(res.status).toBe(429);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("0x80072326");
    abort.abort();
    await Promise.all(slow);
  });

  it("when rate limits are set at start, then they apply from the first request", async () => {
    const other = await startTestSim({ rateLimits: { bap: { requestsPerWindow: 1, windowSeconds: 300 }, graph: { enabled: false }, dataverse: { enabled: false } } });
    try {
      const url = `${other.sim.bapBaseUrl}/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments?api-version=2023-06-01`;
      expect((await other.call(url)).status).toBe(200);
      const res = await other.call(url);
      expect(res.status).toBe(429);
      expect(res.headers.get("retry-after")).toBeTruthy();
    } finally {
      await other.sim.close();
    }
  });
});

describe("fault injection", () => {
  it("when the same seed is used twice, then the same requests meet the same faults; another seed differs", async () => {
    const faults = [{ services: ["graph"], rate429: 0.3, rate503: 0.2, retryAfterSeconds: 3 }];
    t.sim.updateSettings({ faults, seed: 42 });
    const first = await statuses(30, userUrl());
    t.sim.updateSettings({ faults, seed: 42 });
    const second = await statuses(30, userUrl());
    expect(second).toEqual(first);
    expect(first).toContain(429);
    expect(first).toContain(503);
    expect(first).toContain(200);
    t.sim.updateSettings({ faults, seed: 43 });
    expect(await statuses(30, userUrl())).not.toEqual(first);
    expect(t.sim.counters().graph.injectedFaults).toBeGreaterThan(0);
  });

  it("when a fault rule has a path pattern, then only matching paths fail, with Retry-After on 503", async () => {
    t.sim.updateSettings({ faults: [{ services: ["graph"], pathPattern: "^/v1\\.0/subscribedSkus", rate503: 1, retryAfterSeconds: 9 }] });
    const skus = await t.call(`${t.sim.graphBaseUrl}/v1.0/subscribedSkus`);
    expect(skus.status).toBe(503);
    expect(skus.headers.get("retry-after")).toBe("9");
    expect((await t.call(userUrl())).status).toBe(200);
  });

  it("when a timeout fault hits, then the connection is reset without an answer", async () => {
    t.sim.updateSettings({ faults: [{ services: ["dataverse"], rateTimeout: 1, hangMs: 50 }] });
    await expect(t.call(whoAmI())).rejects.toThrow();
    t.sim.updateSettings({ faults: [] });
    expect((await t.call(whoAmI())).status).toBe(200);
  });

  it("when an inBatch rule matches operations of a Dataverse $batch, then each answers in its own part with 429 and Retry-After (a change set fails whole and is rolled back); whole requests are untouched", async () => {
    const api = `${t.sim.dataverseUrl(ENV)}api/data/v9.2`;
    const list = (await (await t.call(`${api}/systemusers?$select=systemuserid,title&$filter=applicationid eq null`)).json()) as { value: { systemuserid: string; title: string | null }[] };
    const [a, b, c] = list.value.map((r) => r.systemuserid);
    t.sim.updateSettings({ faults: [{ services: ["dataverse"], inBatch: true, pathPattern: `/systemusers\\(${c}\\)$`, rate429: 1, retryAfterSeconds: 4 }] });
    const patch = (id: string | undefined, cid: number) =>
      ["Content-Type: application/http", "Content-Transfer-Encoding: binary", `Content-ID: ${cid}`, "", `PATCH ${api}/systemusers(${id}) HTTP/1.1`, "Content-Type: application/json", "", JSON.stringify({ title: "changed" })];
    const body = [
      "--batch_x", ...patch(a, 1),
      "--batch_x", "Content-Type: multipart/mixed; boundary=changeset_y", "",
      "--changeset_y", ...patch(b, 2), "--changeset_y", ...patch(c, 3), "--changeset_y--",
      "--batch_x--", "",
    ].join("\r\n");
    const res = await t.call(`${api}/$batch`, { method: "POST", headers: { "Content-Type": "multipart/mixed; boundary=batch_x", Prefer: "odata.continue-on-error" }, body });
    expect(res.status).toBe(200);
    const parts = parseBatchResponse(await res.text(), res.headers.get("content-type") ?? "");
    expect(parts.map((p) => p.status)).toEqual([204, 429]);
    expect(parts[1]?.headers["retry-after"]).toBe("4");
    expect(parts[1]?.body).toMatchObject({ error: { code: "0x80072322" } });
    const titles = new Map(((await (await t.call(`${api}/systemusers?$select=systemuserid,title`)).json()) as typeof list).value.map((r) => [r.systemuserid, r.title]));
    expect(titles.get(a!)).toBe("changed");
    expect(titles.get(b!)).not.toBe("changed");
    expect(titles.get(c!)).not.toBe("changed");
    expect((await t.call(`${api}/systemusers(${c})?$select=title`)).status).toBe(200);
    expect(t.sim.counters().dataverse).toMatchObject({ injectedFaults: 1, throttled: 1 });
  });

  it("when requests carry x-ms-throttle-priority: low, then the counters tell them apart", async () => {
    await t.call(userUrl(), { headers: { "x-ms-throttle-priority": "low" } });
    await t.call(userUrl());
    expect(t.sim.counters().graph.throttlePriority).toEqual({ low: 1, other: 1 });
  });

  it("when faults are given at start, then they apply per service (Dataverse here, not Graph)", async () => {
    const other = await startTestSim({ faults: { services: ["dataverse"], rate429: 1 }, seed: 1 });
    try {
      expect((await other.call(`${other.sim.dataverseUrl(ENV)}api/data/v9.2/WhoAmI`)).status).toBe(429);
      expect((await other.call(`${other.sim.graphBaseUrl}/v1.0/organization`)).status).toBe(200);
    } finally {
      await other.sim.close();
    }
  });
});

describe("latency and counters", () => {
  it("when latency is set, then each request takes at least that long", async () => {
    t.sim.updateSettings({ latencyMs: 150 });
    const start = performance.now();
    expect((await t.call(userUrl())).status).toBe(200);
    expect(performance.now() - start).toBeGreaterThanOrEqual(145);
    const startDv = performance.now();
    expect((await t.call(whoAmI())).status).toBe(200);
    expect(performance.now() - startDv).toBeGreaterThanOrEqual(145);
  });

  it("when requests are made, then the admin API counts them per service and kind, and resets the counts", async () => {
    await t.call(`${t.sim.graphBaseUrl}/v1.0/users?$top=5`);
    await t.call(`${t.sim.graphBaseUrl}/v1.0/users/delta`);
    await t.call(`${t.sim.graphBaseUrl}/v1.0/subscribedSkus`);
    await t.call(`${t.sim.dataverseUrl(ENV)}api/data/v9.2/systemusers?$top=1`);
    const { json } = await t.admin("GET", "/counters");
    const c = json as { graph: { requests: number; byKind: Record<string, number>; byStatus: Record<string, number> }; dataverse: { byKind: Record<string, number>; byEnvironment: Record<string, number> } };
    expect(c.graph.requests).toBe(3);
    expect(c.graph.byKind).toEqual({ "users.list": 1, "users.delta": 1, subscribedSkus: 1 });
    expect(c.graph.byStatus["200"]).toBe(3);
    expect(c.dataverse.byKind["systemusers.list"]).toBe(1);
    expect(c.dataverse.byEnvironment[ENV]).toBe(1);
    await t.admin("POST", "/counters/reset");
    expect(t.sim.counters().graph.requests).toBe(0);
  });

  it("when settings are patched through the admin API, then they apply and invalid ones are refused", async () => {
    const ok = await t.admin("PATCH", "/settings", { graph: { deltaPageSize: 50 } });
    expect(ok.status).toBe(200);
    expect((ok.json as { graph: { deltaPageSize: number } }).graph.deltaPageSize).toBe(50);
    const bad = await t.admin("PATCH", "/settings", { faults: [{ rate429: 2 }] });
    expect(bad.status).toBe(400);
    const unknown = await t.admin("PATCH", "/settings", { nonsense: true });
    expect(unknown.status).toBe(400);
  });
});
