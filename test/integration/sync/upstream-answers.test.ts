import { describe, expect, it } from "vitest";
import { DEMO_IDS, demoUserId } from "../../../local/sim-cloud/demo-tenant.js";
import { byObjectId, useSyncStack } from "./support.js";

/**
 * What Microsoft answers wrongly: a body of another shape than the contract (the simulated cloud's
 * `rateMalformed`: 200 with `{"unexpected": …}`) is Microsoft's failure - 502, never the caller's 400
 * and never read as "no data"; a 500 of the admin API fails that user's action alone, and the next
 * run does it (D1).
 */
const E = DEMO_IDS.environments;
const u = demoUserId;

const stack = useSyncStack();

const fault = (service: "graph" | "dataverse" | "bap", pathPattern: string, rule: Record<string, unknown>) =>
  stack.sim("/settings", { method: "PATCH", body: { faults: [{ services: [service], pathPattern, ...rule }] } });

async function expectUpstreamProblem(res: Response): Promise<void> {
  expect(res.status, await res.clone().text()).toBe(502);
  expect(res.headers.get("content-type")).toMatch(/application\/problem\+json/);
  expect(await res.json()).toMatchObject({ type: expect.stringMatching(/upstream$/) as string, status: 502 });
}

describe("a Microsoft answer of an unexpected shape", () => {
  it("when Dataverse answers the user's systemusers read with another shape, then diagnostics answer 502 instead of \"no record\"", async () => {
    await fault("dataverse", "/systemusers", { rateMalformed: 1 });

    await expectUpstreamProblem(await stack.call(stack.env(E.production, `/users/${u(21)}/diagnostics`), { token: stack.admin }));
  });

  it("when Dataverse answers the refresh's read with another shape, then the refresh answers 502 and the record is unchanged", async () => {
    const before = byObjectId(await stack.rows(E.production)).get(u(21));
    expect(before).toBeDefined();
    await fault("dataverse", "/systemusers", { rateMalformed: 1 });

    await expectUpstreamProblem(await stack.call(stack.env(E.production, `/users/${u(21)}/refresh`), { method: "POST", token: stack.admin }));

    await stack.sim("/settings", { method: "PATCH", body: { faults: [] } });
    expect(byObjectId(await stack.rows(E.production)).get(u(21))).toEqual(before);
  });

  it("when Graph answers the tenant's subscribed products (inside its $batch) with another shape, then diagnostics answer 502, not 400", async () => {
    await fault("graph", "/subscribedSkus$", { rateMalformed: 1 });

    await expectUpstreamProblem(await stack.call(stack.env(E.production, `/users/${u(21)}/diagnostics`), { token: stack.admin }));
  });

  it("when the admin API lists environments with another shape, then the environments list answers 502", async () => {
    await fault("bap", "/environments$", { rateMalformed: 1 });

    await expectUpstreamProblem(await stack.call(`/api/tenants/${stack.tenantId}/environments`, { token: stack.admin }));
  });

  it("when the admin API answers one environment with another shape, then every route that reads it answers 502, not 404", async () => {
    await fault("bap", "/environments/[^/]+$", { rateMalformed: 1 });
    const admin = { token: stack.admin };

    await expectUpstreamProblem(await stack.call(stack.env(E.production), admin));
    await expectUpstreamProblem(await stack.call(stack.env(E.production, "/sync-runs"), { method: "POST", ...admin }));
    await expectUpstreamProblem(await stack.call(stack.env(E.production, "/users"), admin));
    await expectUpstreamProblem(await stack.call(stack.env(E.production, `/users/${u(21)}/diagnostics`), admin));
    await expectUpstreamProblem(await stack.call(stack.env(E.production, `/users/${u(21)}/refresh`), { method: "POST", ...admin }));
  });

  it("when addUser answers 200 with another shape and no record appears, then an on-demand add answers 502 and the user is not reported added", async () => {
    await fault("bap", "/addUser$", { rateMalformed: 1 });

    await expectUpstreamProblem(await stack.call(stack.env(E.trial, "/users"), { method: "POST", token: stack.admin, body: JSON.stringify({ userId: u(21) }) }));

    await stack.sim("/settings", { method: "PATCH", body: { faults: [] } });
    expect(byObjectId(await stack.rows(E.trial)).get(u(21))).toBeUndefined();
    // The failed attempt is in the audit trail (P9), as failed.
    const { resources } = await stack.database
      .container("audit")
      .items.query<{ outcome: string }>({
        query: "SELECT c.outcome FROM c WHERE c.tenantId = @t AND c.action = 'environment.user.add' AND c.target.id = @u",
        parameters: [{ name: "@t", value: stack.tenantId }, { name: "@u", value: u(21) }],
      })
      .fetchAll();
    expect(resources).toContainEqual({ outcome: "failed" });
  });

  it("when addUser answers 200 {} (its documented success), then an on-demand add still adds the user", async () => {
    const res = await stack.call(stack.env(E.trial, "/users"), { method: "POST", token: stack.admin, body: JSON.stringify({ userId: u(21) }) });

    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ outcome: "added", systemUserId: expect.any(String) as string });
  });

  it("when addUser answers 200 with a body of another shape for one user in a run and no record appears, then the next run adds the user (nothing is lost)", async () => {
    expect((await stack.configure(E.production, { syncEnabled: true, massDisableThresholdPercent: 50 })).status).toBe(200);
    await fault("bap", "/addUser$", { rateMalformed: 1, count: 1 });

    const first = await stack.runNow(E.production);
    expect(first, first.error ?? "").toMatchObject({ state: "succeeded" });
    const afterFirst = (await stack.rows(E.production)).length;

    const next = await stack.runNow(E.production);
    expect(next, next.error ?? "").toMatchObject({ state: "succeeded", counts: { added: 1, failed: 0 } });
    expect((await stack.rows(E.production)).length).toBe(afterFirst + 1);
  });
});

describe("D1 an addUser the admin API fails (500)", () => {
  it("when addUser answers 500 for one user, then the run records that user's failure, adds the others, and the next run adds the user", async () => {
    expect((await stack.configure(E.production, { syncEnabled: true, massDisableThresholdPercent: 50 })).status).toBe(200);
    await fault("bap", "/addUser$", { rate500: 1, count: 1 });

    const first = await stack.runNow(E.production);

    expect(first, first.error ?? "").toMatchObject({ state: "succeeded", counts: { added: 6, failed: 1 } });
    expect(first.failures).toHaveLength(1);
    const failed = first.failures[0]!;
    expect(failed).toMatchObject({ op: "add", message: expect.stringContaining("500") as string });
    expect(byObjectId(await stack.rows(E.production)).get(failed.userId)).toBeUndefined();

    const next = await stack.runNow(E.production);

    expect(next, next.error ?? "").toMatchObject({ state: "succeeded", counts: { added: 1, failed: 0 } });
    expect(byObjectId(await stack.rows(E.production)).get(failed.userId)).toMatchObject({ isdisabled: false });
  });
});

describe("D11 a Dataverse $batch refused as a whole (500)", () => {
  it("when the run's $batch answers 500, then the run fails naming each user whose change was not made (counted as failed), and the next run makes the changes", async () => {
    expect((await stack.configure(E.production, { syncEnabled: true, massDisableThresholdPercent: 50 })).status).toBe(200);
    expect(await stack.runNow(E.production)).toMatchObject({ state: "succeeded" });
    for (const n of [21, 22]) await stack.sim(`/users/${u(n)}`, { method: "PATCH", body: { jobTitle: `Batch down ${n}` } });
    await fault("dataverse", "\\$batch", { rate500: 1, count: 20 });

    const failedRun = await stack.runNow(E.production);

    expect(failedRun).toMatchObject({ state: "failed", counts: { updated: 0, disabled: 0 }, error: expect.stringContaining("500") as string });
    // Every change of the refused $batch is a named failure (the two updates, and whatever else the batch carried).
    expect(failedRun.failures.filter((f) => f.op === "update").map((f) => f.userId).sort()).toEqual([u(21), u(22)].sort());
    expect(failedRun.counts.failed).toBe(new Set(failedRun.failures.map((f) => f.userId)).size);
    expect(failedRun.failures.every((f) => f.message.includes("500"))).toBe(true);
    await stack.sim("/settings", { method: "PATCH", body: { faults: [] } });

    const next = await stack.runNow(E.production);

    expect(next, next.error ?? "").toMatchObject({ state: "succeeded", counts: { updated: 2, failed: 0 } });
    const rows = byObjectId(await stack.rows(E.production));
    for (const n of [21, 22]) expect(rows.get(u(n))?.title).toBe(`Batch down ${n}`);
  });
});
