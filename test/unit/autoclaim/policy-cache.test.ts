import type { Container } from "@azure/cosmos";
import { afterEach, describe, expect, it, vi } from "vitest";
import { KNOWN_APPS } from "../../../shared/autoclaim/apps.js";
import { PolicyStore, POLICY_CACHE_MS } from "../../../shared/autoclaim/policy-store.js";

afterEach(() => {
  vi.useRealTimers();
});

/** A container with just point reads, over a map the test changes. */
function fakeContainer(docs: Map<string, Record<string, unknown>>): Container {
  return {
    id: "policies",
    item: (id: string) => ({
      read: () => Promise.resolve(docs.has(id) ? { resource: { ...docs.get(id), _etag: "e", _ts: 1 }, statusCode: 200 } : { resource: undefined, statusCode: 404 }),
    }),
  } as unknown as Container;
}

describe("policy changes reach claims (A10: within 30 s)", () => {
  it("when another instance changed a policy, then this instance's claims see the change once its cache time (10 s) has passed", async () => {
    vi.useFakeTimers();
    const appId = KNOWN_APPS.powerBi.appId;
    const policy = {
      id: "p1", type: "policy", tenantId: "t", name: "P", appId, enabled: true, products: [{ skuId: "s", disabledPlans: [] }],
      createdAt: "", createdBy: "", updatedAt: "", updatedBy: "",
    };
    const docs = new Map<string, Record<string, unknown>>([[`app:${appId}`, { id: `app:${appId}`, policyId: "p1" }], ["p1", policy]]);
    const store = new PolicyStore(fakeContainer(docs));
    expect((await store.forApp("t", appId))?.enabled).toBe(true);
    docs.set("p1", { ...policy, enabled: false });
    vi.advanceTimersByTime(POLICY_CACHE_MS - 1);
    expect((await store.forApp("t", appId))?.enabled).toBe(true);
    vi.advanceTimersByTime(1);
    expect((await store.forApp("t", appId))?.enabled).toBe(false);
    expect(POLICY_CACHE_MS).toBeLessThanOrEqual(30_000);
  });
});
