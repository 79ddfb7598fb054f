import { beforeEach, describe, expect, it } from "vitest";
import { DEMO_IDS, demoUserId } from "../../../local/sim-cloud/demo-tenant.js";
import { byObjectId, useSyncStack } from "./support.js";

/**
 * D9 refresh, D4 on-demand add and D10 diagnostics when Microsoft Graph fails to answer a read about
 * the user: a failed read is not "no groups" (or "no user"), so the answer is 503/502 and nothing is written.
 */
const E = DEMO_IDS.environments;
const u = demoUserId;

const stack = useSyncStack();
beforeEach(async () => {
  // Let Dataverse accept a disable, so a wrong decision would show in the record.
  await stack.sim("/settings", { method: "PATCH", body: { dataverse: { refuseSyncedUserDisable: false } } });
});

/** Graph answers every matching request (batch items included) with a 429 or 503 past the interactive retry budget. */
const failGraph = (pathPattern: string, fault: "rate429" | "rate503") =>
  stack.sim("/settings", { method: "PATCH", body: { faults: [{ services: ["graph"], pathPattern, [fault]: 1, retryAfterSeconds: 30 }] } });
const MEMBER_OF = "/memberOf$";
const THE_USER = "^/v1\\.0/users/[^/]+$";

const post = (path: string) => stack.call(path, { method: "POST", token: stack.admin });

async function expectProblem(res: Response, status: number): Promise<void> {
  expect(res.status, await res.clone().text()).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/application\/problem\+json/);
  if (status === 503) expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
}

describe("D9 refresh when Graph fails", () => {
  it("when the user's group memberships cannot be read (429 past the budget), then the refresh answers 503 and the record stays enabled", async () => {
    expect(byObjectId(await stack.rows(E.production)).get(u(21))?.isdisabled).toBe(false);
    await failGraph(MEMBER_OF, "rate429");

    await expectProblem(await post(stack.env(E.production, `/users/${u(21)}/refresh`)), 503);

    expect(byObjectId(await stack.rows(E.production)).get(u(21))?.isdisabled).toBe(false);
  });

  it("when Graph is unavailable for the group memberships (503), then the refresh answers 503 and the record stays enabled", async () => {
    await failGraph(MEMBER_OF, "rate503");

    await expectProblem(await post(stack.env(E.production, `/users/${u(21)}/refresh`)), 503);

    expect(byObjectId(await stack.rows(E.production)).get(u(21))?.isdisabled).toBe(false);
  });

  it("when the user itself cannot be read (throttled), then the refresh answers 503 with Retry-After, not 502", async () => {
    await failGraph(THE_USER, "rate429");

    await expectProblem(await post(stack.env(E.production, `/users/${u(21)}/refresh`)), 503);

    expect(byObjectId(await stack.rows(E.production)).get(u(21))?.isdisabled).toBe(false);
  });

  it("when the refresh succeeds again once Graph answers, then the record is still enabled (the failure changed nothing)", async () => {
    await failGraph(MEMBER_OF, "rate429");
    await expectProblem(await post(stack.env(E.production, `/users/${u(21)}/refresh`)), 503);
    await stack.sim("/settings", { method: "PATCH", body: { faults: [] } });

    const res = await post(stack.env(E.production, `/users/${u(21)}/refresh`));

    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ outcome: expect.stringMatching(/refreshed|updated|unchanged/) as string, failedRules: [] });
    expect(byObjectId(await stack.rows(E.production)).get(u(21))?.isdisabled).toBe(false);
  });
});

describe("D9 refresh when Dataverse throttles the disable inside its $batch", () => {
  /** The PATCH of a record inside a $batch answers 429 (or 503), `count` times when given. */
  const throttleDisable = (fault: "rate429" | "rate503", retryAfterSeconds: number, count?: number) =>
    stack.sim("/settings", {
      method: "PATCH",
      body: { faults: [{ services: ["dataverse"], inBatch: true, pathPattern: "/systemusers\\([0-9a-f-]+\\)$", [fault]: 1, retryAfterSeconds, ...(count !== undefined && { count }) }] },
    });
  const driftOf = async (userId: string) => {
    const res = await stack.call(stack.env(E.production, "/users?limit=200"), { token: stack.admin });
    const body = (await res.json()) as { items: { userId: string | null; drift: unknown }[] };
    return body.items.find((i) => i.userId === userId)?.drift ?? null;
  };

  it("when the disable's Retry-After is longer than an admin's request may wait, then 503 with that Retry-After, no drift, and the record stays enabled", async () => {
    await throttleDisable("rate429", 30);

    const res = await post(stack.env(E.production, `/users/${u(60)}/refresh`));

    await expectProblem(res, 503);
    expect(res.headers.get("retry-after")).toBe("30");
    expect(await driftOf(u(60))).toBeNull();
    expect(byObjectId(await stack.rows(E.production)).get(u(60))?.isdisabled).toBe(false);
  });

  it("when the disable stays throttled (503) past the interactive retry budget, then 503 with its Retry-After and no drift; once Dataverse answers, then the refresh disables", async () => {
    // The interactive budget sends an item 4 times at most (3 retries, 1 s each).
    await throttleDisable("rate503", 1, 4);

    const res = await post(stack.env(E.production, `/users/${u(60)}/refresh`));

    await expectProblem(res, 503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await driftOf(u(60))).toBeNull();
    const again = await post(stack.env(E.production, `/users/${u(60)}/refresh`));
    expect(again.status, await again.clone().text()).toBe(200);
    expect(await again.json()).toMatchObject({ outcome: "disabled", drift: null });
    expect(byObjectId(await stack.rows(E.production)).get(u(60))?.isdisabled).toBe(true);
  });
});

describe("D4 add and D10 diagnostics when Graph fails", () => {
  it("when the group memberships cannot be read, then an on-demand add answers 503 (not a false 422) and the record stays disabled", async () => {
    await failGraph(MEMBER_OF, "rate429");

    const res = await stack.call(stack.env(E.production, "/users"), { method: "POST", token: stack.admin, body: JSON.stringify({ userId: u(54) }) });

    await expectProblem(res, 503);
    expect(byObjectId(await stack.rows(E.production)).get(u(54))?.isdisabled).toBe(true);
  });

  it("when the group memberships cannot be read, then diagnostics answer 503 instead of \"not in the group\"", async () => {
    await failGraph(MEMBER_OF, "rate503");

    await expectProblem(await stack.call(stack.env(E.production, `/users/${u(21)}/diagnostics`), { token: stack.admin }), 503);
  });
});
