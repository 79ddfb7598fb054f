import { afterAll, beforeAll, expect, it } from "vitest";
import { demoRoleId, LARGE_ENVIRONMENT_ID, LARGE_TENANT_ID, largeTenantUserEnabled, largeTenantUserLicensed } from "../../../local/sim-cloud/demo-tenant.js";
import { eventually, startSyncStack, type RunView, type SimRow, type SyncStack } from "./support.js";

/**
 * D12: a run killed anywhere resumes from its checkpoint without losing or repeating work. A
 * 20,000-user tenant (every user a direct member of the environment's security group), rate
 * limits off so the test measures correctness, not Microsoft's pace. The host is killed with
 * SIGKILL in the middle of the run's apply phase, a new host is started, and the final Dataverse
 * state must equal that of an uninterrupted run, with no duplicate record.
 */
const USERS = 20_000;
const ENV = LARGE_ENVIRONMENT_ID;
let stack: SyncStack;

beforeAll(async () => {
  stack = await startSyncStack(
    {
      simCloudEnv: { SIM_CLOUD_LARGE_USERS: String(USERS), SIM_CLOUD_LARGE_GROUP_MEMBERS: String(USERS), SIM_CLOUD_RATE_LIMITS: "off" },
      appSettings: { SYNC_CHUNK_SECONDS: "15", SYNC_LEASE_SECONDS: "5", SYNC_ADDUSER_CONCURRENCY: "8" },
    },
    LARGE_TENANT_ID,
  );
}, 180_000);
afterAll(async () => {
  await stack?.stop();
});

/** What the comparison looks at: every record's identity, status, access mode, profile and roles. */
function state(rows: readonly SimRow[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const r of rows) {
    const key = r.azureactivedirectoryobjectid ?? `no-object-id:${r.domainname ?? ""}`;
    out.set(key, {
      domainname: r.domainname, isdisabled: r.isdisabled, accessmode: r.accessmode, applicationid: r.applicationid, internalemailaddress: r.internalemailaddress,
      firstname: r.firstname, lastname: r.lastname, title: r.title, roles: [...r.roles].sort(),
    });
  }
  return out;
}

function duplicates(rows: readonly SimRow[]): string[] {
  const seen = new Set<string>();
  const dup: string[] = [];
  for (const r of rows) {
    if (!r.azureactivedirectoryobjectid) continue;
    if (seen.has(r.azureactivedirectoryobjectid)) dup.push(r.azureactivedirectoryobjectid);
    seen.add(r.azureactivedirectoryobjectid);
  }
  return dup;
}

async function configure(): Promise<void> {
  const res = await stack.configure(ENV, { syncEnabled: true, massDisableThresholdPercent: 100, defaultSecurityRoleIds: [demoRoleId(ENV, "Basic User")] });
  expect(res.status, await res.clone().text()).toBe(200);
}

it("when the worker is killed in the middle of a 20,000-user run and restarted, then the final Dataverse state equals an uninterrupted run's, with no duplicates", async () => {
  // The uninterrupted run.
  await configure();
  const baseline = await stack.runNow(ENV, ["succeeded", "failed"]);
  expect(baseline.state).toBe("succeeded");
  // Every enabled, licensed group member is added (plus the demo's few admins, exempt from the group).
  let eligible = 0;
  for (let n = 1; n <= USERS; n++) if (largeTenantUserEnabled(n) && largeTenantUserLicensed(n)) eligible++;
  expect(baseline.counts.added).toBeGreaterThanOrEqual(eligible);
  expect(baseline.counts.added).toBeLessThanOrEqual(eligible + 6);
  const expected = await stack.rows(ENV);
  expect(duplicates(expected)).toEqual([]);

  // The same run from the same start, killed half-way through its adds.
  await stack.reset();
  await configure();
  const started = await stack.call(stack.env(ENV, "/sync-runs"), { method: "POST", token: stack.admin });
  const { id } = (await started.json()) as { id: string };
  await eventually(async () => {
    const run = (await (await stack.call(stack.env(ENV, `/sync-runs/${id}`), { token: stack.admin })).json()) as RunView;
    return run.counts.added > baseline.counts.added / 3 ? run : undefined;
  }, "the run to be a third of the way through its adds", 120_000);
  await stack.restartHost("crash");
  const atCrash = (await (await stack.call(stack.env(ENV, `/sync-runs/${id}`), { token: stack.admin })).json()) as RunView;
  expect(atCrash.state).toBe("running");

  // The next cycles find the run stalled (its lease ran out) and resume it from its checkpoint.
  const resumed = await eventually(async () => {
    await stack.tick();
    const run = (await (await stack.call(stack.env(ENV, `/sync-runs/${id}`), { token: stack.admin })).json()) as RunView;
    return run.state === "succeeded" || run.state === "failed" ? run : undefined;
  }, "the resumed run to finish", 120_000);

  expect(resumed.state).toBe("succeeded");
  const actual = await stack.rows(ENV);
  expect(duplicates(actual)).toEqual([]);
  expect(actual).toHaveLength(expected.length);
  expect(state(actual)).toEqual(state(expected));
  // Work done before the crash was not counted (or done) twice, nor lost.
  expect(resumed.counts).toEqual(baseline.counts);
}, 240_000);
