import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AppError } from "../../../shared/errors/app-error.js";
import type { Envelope } from "../../../shared/queue/envelope.js";
import { useLocalCosmos } from "../../support/cosmos.js";
import { environment, GROUP, rowFor, user } from "../../unit/sync/fixtures.js";
import { newEnvState } from "../../../shared/sync/runs.js";
import { engine } from "./engine-support.js";

/**
 * The sync engine's runs against the real SyncStore (local Cosmos), with Dataverse and the admin
 * API faked: when a run may plan (D1, D12), what happens to a failed action (D1), and records of
 * users the snapshot does not know yet (D4).
 */
const cosmos = useLocalCosmos("sync-engine");
const production = environment();

describe("a run picked up before its directory cycle is saved (D1, D12)", () => {
  /** Cycle 4 brings a new member of the environment's security group. */
  async function newMemberCycle() {
    const e = engine(cosmos.database, production);
    const known = user();
    e.dataverse.put(rowFor(known));
    const newcomer = user({ groups: [] });
    const { groups: _groups, ...entry } = newcomer;
    await e.seed({ cycle: 3, cursor: 3, users: [known], next: [{ kind: "users", users: [entry] }, { kind: "groups", changes: [{ g: GROUP, u: newcomer.id, a: true }] }] });
    return { e, newcomer };
  }

  it("when another worker takes the run's job while the cycle is still fanning out, then the run waits (no plan, cursor unmoved) and, once the cycle is saved, adds the cycle's new user", async () => {
    const { e, newcomer } = await newMemberCycle();
    const early: { envelope: Envelope; outcome: string | AppError; cursor: number }[] = [];
    e.onSend = async (envelope) => {
      const outcome = await e.runJob(envelope);
      early.push({ envelope, outcome, cursor: (await e.envState()).cursor });
    };

    expect(await e.runCycle()).toBe("completed");
    expect(early).toHaveLength(1);
    const first = early[0]!;
    // Transient: the queue sends the job again after a short delay (it is not the run's failure).
    expect(first.outcome).toBeInstanceOf(AppError);
    expect(first.outcome).toMatchObject({ kind: "unavailable", transient: true });
    expect((first.outcome as AppError).retryAfterSeconds).toBeLessThanOrEqual(10);
    expect(first.cursor).toBe(3);
    const [waiting] = await e.runs();
    expect(waiting).toMatchObject({ state: "running", phase: "plan", plan: null, targetCycle: 4 });

    expect((await e.directory()).cycle).toBe(4);
    expect(await e.runJob(first.envelope)).toBe("succeeded");
    expect(e.dataverse.byObjectId(newcomer.id)).toBeDefined();
    expect(await e.envState()).toMatchObject({ cursor: 4, activeRunId: null });
    expect((await e.runs())[0]).toMatchObject({ state: "succeeded", counts: { added: 1, failed: 0 } });
  });

  it("when the directory worker dies between starting the run and saving the cycle, then the retried cycle saves it without a second run, and the waiting run then adds the user", async () => {
    const { e, newcomer } = await newMemberCycle();
    const save = e.store.save.bind(e.store);
    let died = false;
    e.store.save = (doc, etag) => {
      if (!died && (doc as { type?: string }).type === "directory-state" && (doc as { active?: unknown }).active === null) {
        died = true;
        return Promise.reject(new Error("the worker died"));
      }
      return save(doc, etag);
    };
    await expect(e.runCycle()).rejects.toThrow("the worker died");
    expect(e.sent).toHaveLength(1);
    const envelope = e.sent[0]!;
    // Every delivery before the cycle is saved waits.
    expect(await e.runJob(envelope)).toMatchObject({ kind: "unavailable" });
    expect(await e.runJob(envelope)).toMatchObject({ kind: "unavailable" });
    expect((await e.envState()).cursor).toBe(3);

    expect(await e.runCycle()).toBe("completed");
    expect((await e.directory()).cycle).toBe(4);
    expect(await e.runs()).toHaveLength(1);
    expect(await e.runJob(envelope)).toBe("succeeded");
    expect(e.dataverse.byObjectId(newcomer.id)).toBeDefined();
    expect(await e.envState()).toMatchObject({ cursor: 4, activeRunId: null });
  });

  it("when the cycle a run waits for is not under way at all (the directory state was reset), then the run fails visibly and frees the environment, its cursor unmoved", async () => {
    const e = engine(cosmos.database, production);
    await e.seed({ cycle: 3, cursor: 3, users: [user()] });
    const { envelope } = await e.startRun({ full: false, fromCycle: 3, targetCycle: 4 });
    expect(await e.runJob(envelope)).toBe("failed");
    expect((await e.runs())[0]).toMatchObject({ state: "failed", error: expect.stringContaining("cycle 4") as string });
    expect(await e.envState()).toMatchObject({ cursor: 3, activeRunId: null });
  });
});

describe("a failed action (D1)", () => {
  it("when addUser answers 500 and a profile update's batch item 500, then the next cycle, with no directory change, runs again and adds and updates them", async () => {
    const e = engine(cosmos.database, production);
    const joiner = user();
    const mover = user({ jobTitle: "Head of Sales" });
    const moverRow = e.dataverse.put(rowFor(mover, { title: "Specialist" }));
    await e.seed({ cycle: 3, cursor: 2, users: [joiner, mover], journal: { 3: [joiner, mover] } });
    e.failAddOnce.add(joiner.id);
    e.dataverse.failPatch.set(moverRow.systemuserid, 500);
    const { envelope } = await e.startRun({ full: false, fromCycle: 2, targetCycle: 3 });
    expect(await e.runJob(envelope)).toBe("succeeded");
    expect((await e.runs())[0]).toMatchObject({ counts: { added: 0, updated: 0, failed: 2 } });
    expect(e.dataverse.byObjectId(joiner.id)).toBeUndefined();
    expect(await e.envState()).toMatchObject({ cursor: 3, failedUsers: 2 });

    // Cycle 4: nothing changed in the directory.
    const state = await e.directory();
    await e.store.save({
      ...state,
      active: {
        cycle: 4, step: 1, startedAt: new Date().toISOString(), phase: "fold", usersFull: false, usersNextLink: null, usersDeltaLink: "delta-4", groupsFull: false,
        groupStreamIndex: 1, groupNextLink: null, groupRoundFull: false, newGroupStreams: state.groupStreams, staged: 0, facts: state.facts!, environments: state.environments,
        trackedGroups: [GROUP], reevaluateAll: false, fullCycle: false, journalDocs: 0, bucketCount: state.bucketCount,
      },
    }, (await e.store.readDirectoryState(e.tenantId))!.etag);
    expect(await e.runCycle()).toBe("completed");
    expect(e.sent).toHaveLength(1);
    expect(await e.runJob(e.sent[0]!)).toBe("succeeded");
    const retry = (await e.runs()).find((r) => r.targetCycle === 4);
    expect(retry).toMatchObject({ full: false, counts: { added: 1, updated: 1, failed: 0 } });
    expect(e.dataverse.byObjectId(joiner.id)).toBeDefined();
    expect(e.dataverse.byObjectId(mover.id)?.title).toBe("Head of Sales");
    // The marks are gone: the cycle after starts no run.
    expect(await e.envState()).toMatchObject({ cursor: 4, failedUsers: 0 });
    expect((await e.store.readRechecked(e.tenantId, production.id)).failed.size).toBe(0);
  });

  it("when a user whose action failed needs none any more (left the group meanwhile), then the next run does nothing for them and drops the mark", async () => {
    const e = engine(cosmos.database, production);
    const joiner = user();
    await e.seed({ cycle: 3, cursor: 2, users: [joiner], journal: { 3: [joiner] } });
    e.failAddOnce.add(joiner.id);
    const first = await e.startRun({ full: false, fromCycle: 2, targetCycle: 3 });
    expect(await e.runJob(first.envelope)).toBe("succeeded");
    expect((await e.store.readRechecked(e.tenantId, production.id)).failed.has(joiner.id)).toBe(true);

    const left = { ...joiner, groups: [] };
    const state = await e.directory();
    await e.store.writeJournal(e.tenantId, 4, [[left]]);
    const { toBuckets } = await import("../../../shared/sync/snapshot.js");
    await e.store.writeBuckets(e.tenantId, state.bucketCount, toBuckets([left], state.bucketCount));
    await e.store.save({ ...state, cycle: 4, journal: { ...state.journal, 4: 1 } }, (await e.store.readDirectoryState(e.tenantId))!.etag);
    const second = await e.startRun({ full: false, fromCycle: 3, targetCycle: 4 });
    expect(await e.runJob(second.envelope)).toBe("succeeded");
    expect(e.dataverse.byObjectId(joiner.id)).toBeUndefined();
    expect((await e.store.readRechecked(e.tenantId, production.id)).failed.size).toBe(0);
    expect(await e.envState()).toMatchObject({ failedUsers: 0 });
  });
});

describe("a full run and a record added on demand after the cycle's users read (D4)", () => {
  it("when the snapshot has never seen a record's user and the record is newer than the read, then the run leaves it; older records of unknown or deleted users are disabled", async () => {
    const trial = environment({ type: "Trial" });
    const e = engine(cosmos.database, trial);
    const readAt = Date.now() - 3_600_000;
    const member = user();
    const deleted = user({ removed: "hard" });
    e.dataverse.put(rowFor(member, { createdon: "2024-01-01T00:00:00Z" }));
    const deletedRow = e.dataverse.put(rowFor(deleted, { createdon: "2024-01-01T00:00:00Z" }));
    // Created since the read (first access, D4), and one the snapshot never saw, from long before it.
    const newcomerRow = e.dataverse.put(rowFor(user(), { createdon: new Date(readAt + 600_000).toISOString() }));
    const goneRow = e.dataverse.put(rowFor(user(), { createdon: new Date(readAt - 86_400_000).toISOString() }));
    await e.seed({ cycle: 3, cursor: 3, users: [member, deleted], usersReadAt: new Date(readAt).toISOString() });
    const { envelope } = await e.startRun({ full: true, fromCycle: 3, targetCycle: 3 });

    expect(await e.runJob(envelope)).toBe("succeeded");
    expect(e.dataverse.rows.get(newcomerRow.systemuserid)?.isdisabled).toBe(false);
    expect(e.dataverse.rows.get(goneRow.systemuserid)?.isdisabled).toBe(true);
    expect(e.dataverse.rows.get(deletedRow.systemuserid)?.isdisabled).toBe(true);
    expect((await e.runs())[0]).toMatchObject({ counts: { disabled: 2 } });
  });
});

describe("claiming an environment for a run while others write its state (D1)", () => {
  it("when an on-demand change rewrote the environment's state since it was read, then the run still claims it, keeping that change; a run holding it wins", async () => {
    const e = engine(cosmos.database, production);
    const tenantId = randomUUID();
    const envId = production.id;
    await e.store.save({ ...newEnvState(tenantId, envId), enabledUsers: 10 }, undefined);
    const read = await e.store.readEnvState(tenantId, envId);
    // An on-demand add counts itself meanwhile: the state's etag is not the one read.
    await e.store.adjustEnabledUsers(tenantId, envId, 1);

    expect(await e.store.claimEnvironment(tenantId, envId, "run-a", read)).toEqual({ claimed: true });
    expect((await e.store.readEnvState(tenantId, envId))?.doc).toMatchObject({ activeRunId: "run-a", enabledUsers: 11 });
    expect(await e.store.claimEnvironment(tenantId, envId, "run-b", read)).toEqual({ claimed: false, activeRunId: "run-a" });
    // A run known to have ended may be replaced.
    expect(await e.store.claimEnvironment(tenantId, envId, "run-c", read, "run-a")).toEqual({ claimed: true });
  });
});
