import { describe, expect, it } from "vitest";
import { AppError } from "../../../shared/errors/app-error.js";
import { listRuns, startRun } from "../../../shared/environments/sync-runs.js";
import type { Principal } from "../../../shared/auth/token-validator.js";
import type { SyncDeps } from "../../../shared/sync/deps.js";
import type { PlatformEnvironment } from "../../../shared/sync/model.js";
import { SyncStore } from "../../../shared/sync/store.js";

/** Starting and listing runs: the environment must exist and be of a type the sync manages. */
const TENANT = "0b0b0b0b-0000-4000-8000-000000000005";
const admin = { objectId: "a1a1a1a1-0000-4000-8000-000000000001", isApplication: false } as Principal;

function deps(env: PlatformEnvironment | null) {
  const writes: unknown[] = [];
  return {
    writes,
    deps: {
      platform: () => ({ getEnvironment: () => Promise.resolve(env) }),
      store: {
        readEnvState: () => Promise.resolve(undefined),
        save: (doc: unknown) => (writes.push(doc), Promise.resolve()),
        listRuns: () => Promise.resolve({ items: [], continuationToken: null }),
      },
      now: () => new Date("2026-12-06T12:00:00Z"),
    } as unknown as SyncDeps,
  };
}

const environment = (type: PlatformEnvironment["type"]): PlatformEnvironment => ({
  id: "e1", displayName: "E", type, dataverse: { instanceUrl: "https://org.crm.dynamics.com", domainName: "org", securityGroupId: null }, createdBy: null, appPassCapacity: false,
} as PlatformEnvironment);

describe("sync runs of environments the sync does not manage", () => {
  it("when the environment's type is one the sync does not manage (Other), then starting a run is a 422 and nothing is stored (it would stay queued for ever)", async () => {
    const d = deps(environment("Other"));
    await expect(startRun(d.deps, TENANT, "e1", admin)).rejects.toMatchObject({ kind: "businessRule", code: "environment-not-synced" });
    expect(d.writes).toEqual([]);
  });

  it("when the environment does not exist, then listing its runs is a 404, not an empty list", async () => {
    await expect(listRuns(deps(null).deps, TENANT, "nope", { limit: 50 })).rejects.toMatchObject({ kind: "notFound" });
  });
});

describe("two runs started at the same moment", () => {
  it("when another start wins the environment between the check and the write, then 409 sync-run-in-progress naming the winner's runId", async () => {
    const winner = "99999999-0000-4000-8000-000000000001";
    let reads = 0;
    const d = {
      platform: () => ({ getEnvironment: () => Promise.resolve(environment("Sandbox")) }),
      settings: { get: () => Promise.resolve({ value: { syncEnabled: true } }) },
      // The store's own claim (re-read and retry while no other run holds the environment), over these fakes.
      store: Object.assign(Object.create(SyncStore.prototype) as SyncStore, {
        // First read: free; after the lost write: the winner's run.
        readEnvState: () => Promise.resolve(reads++ === 0 ? undefined : { doc: { activeRunId: winner }, etag: "e" }),
        save: (doc: { activeRunId?: string }) =>
          doc.activeRunId ? Promise.reject(new AppError("conflict", "An item with this id already exists.")) : Promise.resolve(),
        deleteMany: () => Promise.resolve(),
      }),
      now: () => new Date("2026-12-06T12:00:00Z"),
    } as unknown as SyncDeps;
    await expect(startRun(d, TENANT, "e1", admin)).rejects.toMatchObject({ kind: "conflict", code: "sync-run-in-progress", extensions: { runId: winner } });
  });
});
