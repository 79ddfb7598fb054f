import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { BatchOperation, BatchOperationResult, DataverseClient } from "../../../shared/clients/dataverse.js";
import type { PowerPlatformClient } from "../../../shared/clients/power-platform.js";
import { AppError } from "../../../shared/errors/app-error.js";
import { assignDefaultRoles, executeActions, type ExecuteContext } from "../../../shared/sync/apply.js";
import type { PlannedAction } from "../../../shared/sync/decide.js";
import type { SystemUserRow } from "../../../shared/sync/model.js";
import { rowFor, user } from "./fixtures.js";

/** D12: Dataverse items still throttled after the batch's own retries (the client's retries are tested against the simulated cloud). */
const update = (): PlannedAction => ({ op: "update", userId: randomUUID(), systemUserId: randomUUID(), patch: { title: "x" } });
const disable = (): PlannedAction => ({ op: "disable", userId: randomUUID(), systemUserId: randomUUID(), failedRules: ["D2.accountEnabled"] });

const ok: BatchOperationResult = { status: 204, headers: {}, body: null };
const throttled = (retryAfter?: string): BatchOperationResult => ({
  status: 429,
  headers: retryAfter === undefined ? {} : { "retry-after": retryAfter },
  body: { error: { code: "0x80072322", message: "Number of requests exceeded the limit of 6000 over time window of 300 seconds." } },
});

function context(answers: BatchOperationResult[]): ExecuteContext {
  const dataverse = { apiBase: "https://x/api/data/v9.2", batch: () => Promise.resolve(answers) } as unknown as DataverseClient;
  const platform = {} as PowerPlatformClient;
  return { platform, dataverse, environmentId: "e1", defaultRoleIds: [], concurrency: 1, deadline: Date.now() + 60_000 };
}

describe("applying updates and disables through a Dataverse $batch", () => {
  it("when items are still throttled, then they are left for the next chunk (a throttled disable is not drift), deferred by the longest Retry-After they carry", async () => {
    const actions = [update(), disable(), update(), disable()];
    const outcome = await executeActions(context([ok, throttled("7"), throttled("3"), ok]), actions);
    expect(outcome.deferSeconds).toBe(7);
    expect(outcome.results).toEqual([{ action: actions[0], outcome: "done" }, { action: actions[3], outcome: "done" }]);
  });

  it("when only some throttled items say how long to wait, then theirs counts; when none does, then 30 seconds", async () => {
    expect((await executeActions(context([throttled(), throttled("2")]), [update(), disable()])).deferSeconds).toBe(2);
    const none = await executeActions(context([throttled(), { status: 503, headers: {}, body: null }]), [update(), disable()]);
    expect(none).toMatchObject({ deferSeconds: 30, results: [] });
  });

  it("when nothing is throttled, then nothing is deferred; a refused disable is drift and a failed update a failure", async () => {
    const actions = [disable(), update()];
    const refused: BatchOperationResult = { status: 403, headers: {}, body: { error: { code: "0x80040225", message: "managed by the platform" } } };
    const broken: BatchOperationResult = { status: 400, headers: {}, body: { error: { code: "0x1", message: "bad" } } };
    const outcome = await executeActions(context([refused, broken]), actions);
    expect(outcome.deferSeconds).toBeNull();
    expect(outcome.results.map((r) => r.outcome)).toEqual(["drift", "failed"]);
  });
});

describe("a Dataverse $batch refused as a whole (D11: a failed run names what it did not do)", () => {
  it("when the batch answers a server error, then each of its updates and disables is a failure with that error, the adds made beside it are kept, and the window is fatal", async () => {
    const add: PlannedAction = { op: "add", userId: randomUUID() };
    const changes = [update(), disable()];
    const down = new AppError("upstream", "Dataverse answered 500 to the $batch.", { code: "upstream" });
    const ctx: ExecuteContext = {
      ...context([]),
      dataverse: { apiBase: "https://x/api/data/v9.2", batch: () => Promise.reject(down) } as unknown as DataverseClient,
      platform: { addUser: () => Promise.resolve({ ok: true }) } as unknown as PowerPlatformClient,
    };
    const outcome = await executeActions(ctx, [add, ...changes]);
    expect(outcome.fatal).toBe(down);
    expect(outcome.results).toEqual([
      { action: add, outcome: "done" },
      ...changes.map((action) => ({ action, outcome: "failed", failure: { code: "upstream", message: down.message } })),
    ]);
  });

  it("when the batch is throttled past its retries, then nothing is failed: the window waits (not fatal)", async () => {
    const throttledBatch = new AppError("unavailable", "Dataverse is throttling.", { retryAfterSeconds: 12 });
    const ctx: ExecuteContext = { ...context([]), dataverse: { apiBase: "https://x/api/data/v9.2", batch: () => Promise.reject(throttledBatch) } as unknown as DataverseClient };
    const outcome = await executeActions(ctx, [update()]);
    expect(outcome).toMatchObject({ results: [], deferSeconds: 12 });
    expect(outcome.fatal).toBeUndefined();
  });
});

describe("D14 default roles for the users a run added", () => {
  const roles = [randomUUID(), randomUUID()];

  /** Dataverse holding these records; associations answered by `answer` (204 unless told). */
  function rolesContext(rows: SystemUserRow[], answer: (op: BatchOperation) => BatchOperationResult = () => ok) {
    const sent: BatchOperation[] = [];
    const dataverse = {
      apiBase: "https://x/api/data/v9.2",
      systemUsersByObjectIds: (ids: readonly string[]) => Promise.resolve(rows.filter((r) => ids.includes(r.azureactivedirectoryobjectid ?? ""))),
      batch: (ops: readonly BatchOperation[]) => {
        sent.push(...ops);
        return Promise.resolve(ops.map(answer));
      },
    } as unknown as DataverseClient;
    return { ctx: { dataverse, defaultRoleIds: roles }, sent };
  }

  it("when an added user's record is not readable yet, then each of their default roles is a failure of that user, and the others get their roles", async () => {
    const readable = user();
    const notYet = user();
    const { ctx, sent } = rolesContext([rowFor(readable)]);

    const failures = await assignDefaultRoles(ctx, [readable.id, notYet.id]);

    expect(failures).toEqual(roles.map((roleId) => ({ userId: notYet.id, roleId, code: "record-not-found", message: expect.stringContaining(roleId) as string, retryable: true })));
    expect(sent).toHaveLength(roles.length);
  });

  it("when an association already exists, then it is no failure; when Dataverse refuses one, then that role is a failure with its code", async () => {
    const added = user();
    const refused = { status: 400, headers: {}, body: { error: { code: "0x80040217", message: "role does not exist" } } };
    const duplicate = { status: 400, headers: {}, body: { error: { code: "0x80040237", message: "Cannot insert duplicate key." } } };
    const { ctx } = rolesContext([rowFor(added)], (op) => (op.body as { "@odata.id": string })["@odata.id"].includes(roles[0]!) ? duplicate : refused);

    expect(await assignDefaultRoles(ctx, [added.id])).toEqual([{ userId: added.id, roleId: roles[1], code: "0x80040217", message: `role ${roles[1]}: role does not exist`, retryable: false }]);
  });
});
