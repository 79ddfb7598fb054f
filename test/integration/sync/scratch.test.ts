import { afterAll, beforeAll, it } from "vitest";
import { demoRoleId, LARGE_ENVIRONMENT_ID, LARGE_TENANT_ID } from "../../../local/sim-cloud/demo-tenant.js";
import { startSyncStack, type RunView, type SyncStack } from "./support.js";

let stack: SyncStack;
beforeAll(async () => {
  stack = await startSyncStack({ simCloudEnv: { SIM_CLOUD_LARGE_USERS: "20000", SIM_CLOUD_LARGE_GROUP_MEMBERS: "20000", SIM_CLOUD_RATE_LIMITS: "off" }, appSettings: { SYNC_CHUNK_SECONDS: "15", SYNC_LEASE_SECONDS: "5" } }, LARGE_TENANT_ID);
}, 180_000);
afterAll(async () => { await stack?.stop(); });
it("scratch", async () => {
  const ENV = LARGE_ENVIRONMENT_ID;
  await stack.configure(ENV, { syncEnabled: true, massDisableThresholdPercent: 100, defaultSecurityRoleIds: [demoRoleId(ENV, "Basic User")] });
  const t0 = Date.now();
  const started = await stack.call(stack.env(ENV, "/sync-runs"), { method: "POST", token: stack.admin });
  const { id } = (await started.json()) as { id: string };
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 3000));
    const run = (await (await stack.call(stack.env(ENV, `/sync-runs/${id}`), { token: stack.admin })).json()) as RunView;
    console.log(((Date.now() - t0) / 1000).toFixed(1), run.state, run.checkpoint, JSON.stringify(run.counts), run.batchSize);
    if (run.state === "succeeded" || run.state === "failed") break;
  }
}, 200_000);
