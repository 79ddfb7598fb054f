import { expect, it } from "vitest";
import { DEMO_DOMAIN, DEMO_IDS, DEMO_SKUS } from "../../../local/sim-cloud/demo-tenant.js";
import { byObjectId, eventually, useSyncStack, type RunView } from "./support.js";

/**
 * D4: a user created after a directory cycle's users/delta read opens a Trial environment and is
 * added on demand. The full run of that cycle lists every record, and finds this one's user missing
 * from the snapshot: not deleted, only not read yet - the record is left for the next cycle.
 *
 * The cycle is held between its users/delta and groups/delta reads by answering groups/delta 429
 * (Retry-After) while the user is created and added (Production syncs too, for its security group).
 */
const T = DEMO_IDS.environments.trial;
const NEW_USER = "c0000000-0000-4000-8000-00000000a004";

const stack = useSyncStack();

it("when a user created after the cycle's users/delta read is added on demand, then that cycle's full run does not disable them", async () => {
  // Dataverse lets the sync disable synced users here: a wrong disable would go through.
  await stack.sim("/settings", { method: "PATCH", body: { dataverse: { refuseSyncedUserDisable: false } } });
  const configured = await stack.configure(T, { syncEnabled: true, massDisableThresholdPercent: 100 });
  expect(configured.status, await configured.clone().text()).toBe(200);
  // The Trial environment has no security group: Production's makes the cycle read groups/delta (where it is held).
  const production = await stack.configure(DEMO_IDS.environments.production, { syncEnabled: true, massDisableThresholdPercent: 100 });
  expect(production.status, await production.clone().text()).toBe(200);
  expect(await stack.runNow(T)).toMatchObject({ state: "succeeded" });

  // An admin starts a full run: its cycle reads users/delta, then waits on groups/delta.
  await stack.sim("/counters/reset", { body: {} });
  await stack.sim("/settings", { method: "PATCH", body: { faults: [{ services: ["graph"], pathPattern: "^/v1.0/groups/delta", rate429: 1, retryAfterSeconds: 3 }] } });
  const started = await stack.call(stack.env(T, "/sync-runs"), { method: "POST", token: stack.admin });
  expect(started.status, await started.clone().text()).toBe(202);
  const { id } = (await started.json()) as { id: string };
  await eventually(async () => ((await stack.sim<{ graph: { injectedFaults: number } }>("/counters")).graph.injectedFaults > 0 ? true : undefined), "the cycle to reach groups/delta");

  // Meanwhile the user is created (licensed) and opens the Trial environment: added on demand.
  await stack.sim("/users", {
    body: {
      id: NEW_USER, userPrincipalName: `trial.visitor@${DEMO_DOMAIN}`, displayName: "Trial Visitor", givenName: "Trial", surname: "Visitor",
      mail: `trial.visitor@${DEMO_DOMAIN}`, usageLocation: "NL", licenses: [{ skuId: DEMO_SKUS.powerAppsPerUser }],
    },
  });
  const added = await stack.call(stack.env(T, "/users"), { method: "POST", token: stack.admin, body: JSON.stringify({ userId: NEW_USER }) });
  expect(added.status, await added.clone().text()).toBe(200);
  expect(byObjectId(await stack.rows(T)).get(NEW_USER)?.isdisabled).toBe(false);
  await stack.sim("/settings", { method: "PATCH", body: { faults: [] } });

  const run: RunView = await stack.waitForRun(T, id, ["succeeded", "failed"]);
  expect(run).toMatchObject({ state: "succeeded", full: true });
  expect(run.failures.filter((f) => f.userId === NEW_USER)).toEqual([]);
  expect(byObjectId(await stack.rows(T)).get(NEW_USER)?.isdisabled).toBe(false);

  // The next cycle reads the user: still enabled.
  const next = await stack.tickAndWait(T);
  expect(next.state).toBe("succeeded");
  expect(byObjectId(await stack.rows(T)).get(NEW_USER)?.isdisabled).toBe(false);
}, 180_000);
