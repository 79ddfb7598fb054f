import { expect, it } from "vitest";
import { DEMO_DOMAIN, DEMO_IDS, DEMO_SKUS } from "../../../local/sim-cloud/demo-tenant.js";
import { byObjectId, eventually, useSyncStack } from "./support.js";

/**
 * D1/D2: HR provisioning creates a user and puts it in the environment's security group seconds
 * later. When a directory cycle reads users/delta before the user exists and groups/delta after it
 * joined, the membership arrives before the user; groups/delta never sends it again, so it must be
 * kept until the next cycle's users/delta brings the user in.
 *
 * The cycle is held between its two reads by answering groups/delta 429 (Retry-After) until the
 * user has been created and added to the group.
 */
const P = DEMO_IDS.environments.production;
const NEW_USER = "c0000000-0000-4000-8000-00000000a001";

const stack = useSyncStack();

async function directoryCycle(): Promise<{ cycle: number; active: unknown }> {
  const state = await stack.database.container("sync").item("directory-state", `${stack.tenantId}|directory`).read<{ cycle: number; active: unknown }>();
  if (!state.resource) throw new Error("no directory state");
  return state.resource;
}

it("when a user is created after the cycle's users/delta read and joins the security group before its groups/delta read, then the next cycle adds the user", async () => {
  const configured = await stack.configure(P, { syncEnabled: true, massDisableThresholdPercent: 50 });
  expect(configured.status, await configured.clone().text()).toBe(200);
  await stack.runNow(P);
  const before = (await directoryCycle()).cycle;

  // The next cycle reads users/delta, then waits on groups/delta.
  await stack.sim("/counters/reset", { body: {} });
  await stack.sim("/settings", { method: "PATCH", body: { faults: [{ services: ["graph"], pathPattern: "^/v1.0/groups/delta", rate429: 1, retryAfterSeconds: 3 }] } });
  await stack.tick();
  await eventually(async () => ((await stack.sim<{ graph: { injectedFaults: number } }>("/counters")).graph.injectedFaults > 0 ? true : undefined), "the cycle to reach groups/delta");

  // HR provisioning: the user is created (licensed), then added to the Sales group.
  await stack.sim("/users", {
    body: {
      id: NEW_USER, userPrincipalName: `new.hire@${DEMO_DOMAIN}`, displayName: "New Hire", givenName: "New", surname: "Hire", mail: `new.hire@${DEMO_DOMAIN}`,
      usageLocation: "NL", licenses: [{ skuId: DEMO_SKUS.powerAppsPerUser }],
    },
  });
  await stack.sim(`/groups/${DEMO_IDS.groups.sales}/members`, { body: { add: [NEW_USER] } });
  await stack.sim("/settings", { method: "PATCH", body: { faults: [] } });
  await eventually(async () => {
    const state = await directoryCycle();
    return state.cycle > before && state.active === null ? true : undefined;
  }, "the held cycle to finish");
  expect(byObjectId(await stack.rows(P)).has(NEW_USER)).toBe(false);

  // The next cycle's users/delta brings the user; groups/delta has nothing more to say about it.
  const run = await stack.tickAndWait(P);
  expect(run).toMatchObject({ state: "succeeded", full: false, counts: { added: 1 } });
  expect(byObjectId(await stack.rows(P)).get(NEW_USER)).toMatchObject({ isdisabled: false, domainname: `new.hire@${DEMO_DOMAIN}` });
}, 180_000);
