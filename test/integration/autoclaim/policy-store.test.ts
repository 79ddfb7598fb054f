import { randomUUID } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { KNOWN_APPS, type PolicyAppId } from "../../../shared/autoclaim/apps.js";
import { PolicyStore } from "../../../shared/autoclaim/policy-store.js";
import { useLocalCosmos } from "../../support/cosmos.js";

/**
 * A12 and A6 against the local Cosmos server: a deleted policy leaves a tombstone (its name for the
 * report); an app lock left naming it - its delete failed after the tombstone was written - neither
 * gives the app a policy nor blocks a new one.
 */
const cosmos = useLocalCosmos("policy-store");
const tenantId = "5f1c6e2a-7d3b-4c8e-9a41-2b6d0e8f3c17";
const body = (appId: PolicyAppId) => ({ name: "P", appId, products: [{ skuId: randomUUID(), disabledPlans: [] }], enabled: true });

describe("a deleted policy's app lock left behind", () => {
  it("when the lock still names the deleted policy, then the app has no policy, and a new policy for the app takes the lock over", async () => {
    const container = cosmos.database.container("policies");
    const store = new PolicyStore(container, () => new Date(), 0);
    const appId = KNOWN_APPS.powerBi.appId;
    const first = await store.create(tenantId, body(appId), "admin");
    await store.delete(tenantId, first.id, first._etag);
    // The lock's delete failed: it is back, naming the tombstone.
    await container.items.upsert({ id: `app:${appId}`, type: "policy-app-lock", tenantId, appId, policyId: first.id });

    expect(await store.forApp(tenantId, appId)).toBeUndefined();
    const second = await store.create(tenantId, body(appId), "admin");
    expect((await store.forApp(tenantId, appId))?.id).toBe(second.id);
    expect((await store.deletedNames(tenantId, [first.id, second.id])).get(first.id)).toBe("P");
    expect((await store.deletedNames(tenantId, [second.id])).size).toBe(0);
  });
});

describe("a policy created while the app's policy is being deleted", () => {
  it("when the app lock disappears between the create's conflict and its read (the delete removed it), then the create tries again and succeeds", async () => {
    const container = cosmos.database.container("policies");
    const store = new PolicyStore(container, () => new Date(), 0);
    const appId = KNOWN_APPS.powerApps.appId;
    const tenant = randomUUID();
    // The lock's create meets a conflict, yet the lock is gone when read: the delete removed it meanwhile.
    const create = container.items.create.bind(container.items);
    let conflicts = 0;
    const spy = vi.spyOn(container.items, "create").mockImplementation((item, options) => {
      if ((item as { type?: string }).type === "policy-app-lock" && conflicts++ === 0) return Promise.reject(Object.assign(new Error("Conflict"), { code: 409 }));
      return create(item, options);
    });
    try {
      const created = await store.create(tenant, body(appId), "admin");
      expect((await store.forApp(tenant, appId))?.id).toBe(created.id);
      expect(conflicts).toBe(2);
    } finally {
      spy.mockRestore();
    }
  });
});
