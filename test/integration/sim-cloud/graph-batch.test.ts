import { BatchRequestContent, BatchResponseContent, type BatchRequestStep } from "@microsoft/microsoft-graph-client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEMO_IDS, DEMO_SKUS, demoUserId } from "../../../local/sim-cloud/demo-tenant.js";
import { startTestSim, type TestSim } from "./support.js";

let t: TestSim;
beforeAll(async () => {
  t = await startTestSim({ rateLimits: false });
});
afterAll(async () => {
  await t.sim.close();
});
beforeEach(() => {
  t.sim.reset();
  t.sim.updateSettings({ rateLimits: { graph: { enabled: false } }, faults: [] });
});

const demoUser = demoUserId;

function getStep(id: string, path: string): BatchRequestStep {
  return { id, request: new Request(`${t.sim.graphBaseUrl}/v1.0${path}`, { method: "GET" }) };
}

async function runBatch(steps: BatchRequestStep[]): Promise<BatchResponseContent> {
  const content = await new BatchRequestContent(steps).getContent();
  const raw = (await t.graph.api("/$batch").post(content)) as ConstructorParameters<typeof BatchResponseContent>[0];
  return new BatchResponseContent(raw);
}

describe("Graph $batch", () => {
  it("when BatchRequestContent sends GETs and an assignLicense POST, then BatchResponseContent reads each item's status and body", async () => {
    const steps: BatchRequestStep[] = [
      getStep("1", `/users/${DEMO_IDS.users.globalAdmin}?$select=id,displayName`),
      getStep("2", "/users/00000000-0000-4000-8000-0000000000cc"),
      {
        id: "3",
        request: new Request(`${t.sim.graphBaseUrl}/v1.0/users/${demoUser(21)}/assignLicense`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ addLicenses: [{ skuId: DEMO_SKUS.powerAppsPerUser, disabledPlans: [] }], removeLicenses: [] }),
        }),
      },
      {
        id: "4",
        request: new Request(`${t.sim.graphBaseUrl}/v1.0/users/${DEMO_IDS.users.noUsageLocation}/assignLicense`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ addLicenses: [{ skuId: DEMO_SKUS.powerAppsPerUser, disabledPlans: [] }], removeLicenses: [] }),
        }),
      },
    ];
    const res = await runBatch(steps);
    const one = res.getResponseById("1");
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ id: DEMO_IDS.users.globalAdmin });
    const two = res.getResponseById("2");
    expect(two.status).toBe(404);
    expect(((await two.json()) as { error: { code: string } }).error.code).toBe("Request_ResourceNotFound");
    expect(res.getResponseById("3").status).toBe(200);
    const four = res.getResponseById("4");
    expect(four.status).toBe(400);
    expect(((await four.json()) as { error: { message: string } }).error.message).toContain("usage location");
    expect(t.sim.state.directory.users.get(demoUser(21))?.licenses.some((l) => l.skuId === DEMO_SKUS.powerAppsPerUser)).toBe(true);
    const counters = t.sim.counters().graph;
    expect(counters.byKind.$batch).toBe(1);
    expect(counters.batchItemsByKind["users.assignLicense"]).toBe(2);
  });

  it("when items exceed the tenant's resource-unit budget, then those items come back 429 with their own Retry-After while the others succeed", async () => {
    t.sim.updateSettings({ rateLimits: { graph: { enabled: true, unitsPerWindow: 10, windowSeconds: 300 } } });
    const steps = Array.from({ length: 8 }, (_, i) => getStep(String(i + 1), `/users/${demoUser(20 + i)}`));
    const res = await runBatch(steps);
    const statuses = steps.map((s) => res.getResponseById(s.id).status);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
    const throttled = res.getResponseById("6");
    const retryAfter = Number(throttled.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(((await throttled.json()) as { error: { code: string } }).error.code).toBe("TooManyRequests");
  });

  it("when an injected 429 fault hits a batch item, then only that item fails", async () => {
    t.sim.updateSettings({ faults: [{ services: ["graph"], pathPattern: "licenseDetails$", rate429: 1, retryAfterSeconds: 7 }] });
    const res = await runBatch([getStep("a", `/users/${DEMO_IDS.users.globalAdmin}`), getStep("b", `/users/${DEMO_IDS.users.globalAdmin}/licenseDetails`)]);
    expect(res.getResponseById("a").status).toBe(200);
    expect(res.getResponseById("b").status).toBe(429);
    expect(res.getResponseById("b").headers.get("Retry-After")).toBe("7");
  });

  it("when a batch holds 21 requests, then Graph refuses it with 400; 20 are fine", async () => {
    const body = (n: number) => JSON.stringify({ requests: Array.from({ length: n }, (_, i) => ({ id: String(i + 1), method: "GET", url: `/users/${demoUser(i + 1)}` })) });
    const over = await t.call(`${t.sim.graphBaseUrl}/v1.0/$batch`, { method: "POST", headers: { "content-type": "application/json" }, body: body(21) });
    expect(over.status).toBe(400);
    expect(((await over.json()) as { error: { code: string } }).error.code).toBe("BadRequest");
    const ok = await t.call(`${t.sim.graphBaseUrl}/v1.0/$batch`, { method: "POST", headers: { "content-type": "application/json" }, body: body(20) });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { responses: unknown[] }).responses).toHaveLength(20);
  });

  it("when an item depends on a failed item, then it is answered 424 without running", async () => {
    const res = await t.call(`${t.sim.graphBaseUrl}/v1.0/$batch`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ requests: [
        { id: "1", method: "GET", url: "/users/00000000-0000-4000-8000-0000000000dd" },
        { id: "2", method: "GET", url: `/users/${DEMO_IDS.users.globalAdmin}`, dependsOn: ["1"] },
      ] }),
    });
    const body = (await res.json()) as { responses: Array<{ id: string; status: number }> };
    expect(body.responses.map((r) => [r.id, r.status])).toEqual([["1", 404], ["2", 424]]);
  });
});
