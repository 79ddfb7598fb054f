import { describe, expect, it } from "vitest";
import { DEMO_IDS, demoUserId } from "../../../local/sim-cloud/demo-tenant.js";
import { createQueueSender } from "../../../shared/queue/create-sender.js";
import { newEnvelope } from "../../../shared/queue/envelope.js";
import { FIRST_ACCESS_KIND } from "../../../shared/sync/first-access.js";
import { byObjectId, eventually, useSyncStack } from "./support.js";

/** D5: a Dataverse for Teams environment gets users only at their first access - never through the API. */
const TEAMS = DEMO_IDS.environments.teams;
/** A member of the Teams environment's group (users 20-40) with Office 365 E3 and Power Apps per user: eligible apart from the add path. */
const MEMBER = demoUserId(26);

const stack = useSyncStack();

describe("D5 Dataverse for Teams: only on first access", () => {
  it("when an admin adds a team member to a Teams environment through the API, then 422 says Teams environments get users only at their first access, and nothing is created", async () => {
    const before = await stack.rows(TEAMS);
    expect(byObjectId(before).has(MEMBER)).toBe(false);

    const res = await stack.call(stack.env(TEAMS, "/users"), { method: "POST", token: stack.admin, body: JSON.stringify({ userId: MEMBER }) });
    expect(res.status, await res.clone().text()).toBe(422);
    expect(res.headers.get("content-type")).toMatch(/application\/problem\+json/);
    const problem = (await res.json()) as { type: string; detail: string; failedRules: { id: string; lever: string | null }[] };
    expect(problem.type).toMatch(/user-not-eligible$/);
    expect(problem.detail).toMatch(/only at their first access/);
    // Only the way of adding is refused: the answer does not call an eligible user "not eligible".
    expect(problem.detail).toMatch(/Every other rule holds for this user/);
    expect(problem.detail).not.toMatch(/not eligible/);
    // Diagnostics say the same: eligible for an add at their first access only - not "or the API".
    const diagnostics = await stack.call(stack.env(TEAMS, `/users/${MEMBER}/diagnostics`), { token: stack.admin });
    expect(diagnostics.status).toBe(200);
    const explained = JSON.stringify(await diagnostics.json());
    expect(explained).toMatch(/at the user's first access only/);
    expect(explained).not.toMatch(/first access or the API/);
    expect(problem.failedRules).toEqual([expect.objectContaining({ id: "D5.addPath", lever: expect.stringMatching(/only at their first access/) as string })]);

    const after = await stack.rows(TEAMS);
    expect(after).toHaveLength(before.length);
    expect(byObjectId(after).has(MEMBER)).toBe(false);
  });

  it("when the same team member first opens the Teams environment, then the first-access event adds them", async () => {
    expect((await stack.configure(TEAMS, { syncEnabled: true })).status).toBe(200);
    const events = createQueueSender({ transport: "storage-queue", queueName: "events", connection: { connectionString: stack.storageConnectionString } });
    await events.send(newEnvelope({ kind: FIRST_ACCESS_KIND, tenantId: stack.tenantId, body: { userId: MEMBER, environmentId: TEAMS, occurredAt: new Date().toISOString() } }));
    const row = await eventually(async () => byObjectId(await stack.rows(TEAMS)).get(MEMBER), "the first-access add");
    expect(row.isdisabled).toBe(false);
  });
});
