import { randomUUID } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { AppError } from "../../../shared/errors/app-error.js";
import { TenantSettings } from "../../../shared/settings/tenant-settings.js";
import { TenantRegistry } from "../../../shared/tenants/tenant-registry.js";
import { EnvironmentSettingsStore } from "../../../shared/environments/settings.js";
import { LicenseRulesStore } from "../../../shared/licenses/rules.js";
import { PolicyStore } from "../../../shared/autoclaim/policy-store.js";
import { KNOWN_APPS } from "../../../shared/autoclaim/apps.js";
import type { AuditLog } from "../../../shared/audit/audit-log.js";
import type { Principal } from "../../../shared/auth/token-validator.js";
import { useLocalCosmos } from "../../support/cosmos.js";

const cosmos = useLocalCosmos("settings-race");

type Item = ReturnType<ReturnType<typeof cosmos.database.container>["item"]>;

/**
 * `container.item(...)` whose replace fails `times` times as Cosmos does when another writer got
 * there first (412), then works; `lost()` says how many times it failed. `otherWriter`, when given,
 * makes the other writer's change to the item just before each lost replace.
 */
function replaceLosesRaces(container: ReturnType<typeof cosmos.database.container>, times: number, otherWriter?: (item: Item) => Promise<unknown>) {
  let lost = 0;
  const spy = vi.spyOn(container, "item").mockImplementation((id, pk) => {
    const real = container.database.container(container.id).item(id, pk);
    return Object.assign(Object.create(Object.getPrototypeOf(real) as object) as typeof real, real, {
      replace: async (...args: Parameters<typeof real.replace>) => {
        if (lost >= times) return real.replace(...args);
        lost++;
        await otherWriter?.(real);
        throw Object.assign(new Error("Precondition Failed"), { code: 412 });
      },
    });
  });
  return Object.assign(spy, { lost: () => lost });
}

describe("a settings write that loses a race after its If-Match check", () => {
  it("when another request changed the settings between the read and the write, then 412 with the settings' own message, not the storage's", async () => {
    const container = cosmos.database.container("settings");
    const settings = new TenantSettings(container);
    const tenantId = randomUUID();
    const first = await settings.put(tenantId, "automation", { paused: true }, '"default"', "admin");
    // The replace meets a changed document (Cosmos answers 412).
    const replace = replaceLosesRaces(container, Number.POSITIVE_INFINITY);
    try {
      const err = await settings.put(tenantId, "automation", { paused: false }, first.etag, "admin").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).status).toBe(412);
      expect((err as AppError).message).toMatch(/settings changed since you read them/);
    } finally {
      replace.mockRestore();
    }
  });

  it("when the request sent If-Match: * (any version) and lost the race, then its write is made on top of the other one, not refused with 412", async () => {
    const container = cosmos.database.container("settings");
    const settings = new TenantSettings(container);
    const tenantId = randomUUID();
    await settings.put(tenantId, "automation", { paused: true }, '"default"', "admin");
    const replace = replaceLosesRaces(container, 2);
    try {
      const written = await settings.put(tenantId, "automation", { paused: false }, "*", "admin");
      expect(written.value).toEqual({ paused: false });
      expect(written.before).toEqual({ paused: true });
      expect(replace.lost()).toBe(2);
    } finally {
      replace.mockRestore();
    }
    expect((await new TenantSettings(container).get(tenantId, "automation")).value).toEqual({ paused: false });
  });
});

describe("If-Match: * on the other versioned resources", () => {
  const audit = { append: () => Promise.resolve({}) } as unknown as AuditLog;
  it.each([
    ["the license rules", "settings", async (container: ReturnType<typeof cosmos.database.container>, tenantId: string) => {
      const store = new LicenseRulesStore(container, audit);
      await store.replace(tenantId, { mutuallyExclusive: [], prerequisites: [] }, "*", { type: "user", id: "admin", directoryRoles: [] });
      return () => store.replace(tenantId, { mutuallyExclusive: [], prerequisites: [] }, "*", { type: "user", id: "admin", directoryRoles: [] });
    }],
    ["a policy", "policies", async (container: ReturnType<typeof cosmos.database.container>, tenantId: string) => {
      const store = new PolicyStore(container, () => new Date(), 0);
      const policy = await store.create(tenantId, { name: "P", appId: KNOWN_APPS.powerBi.appId, products: [{ skuId: randomUUID(), disabledPlans: [] }], enabled: true }, "admin");
      return () => store.update(tenantId, policy.id, { name: "Q" }, "*", "admin");
    }],
    ["a policy's delete", "policies", async (container: ReturnType<typeof cosmos.database.container>, tenantId: string) => {
      const store = new PolicyStore(container, () => new Date(), 0);
      const policy = await store.create(tenantId, { name: "P", appId: KNOWN_APPS.powerBi.appId, products: [{ skuId: randomUUID(), disabledPlans: [] }], enabled: true }, "admin");
      return () => store.delete(tenantId, policy.id, "*");
    }],
  ])("when a write of %s under If-Match: * loses a race, then it is made again on top", async (_what, name, arrange) => {
    const container = cosmos.database.container(name);
    const write = await arrange(container, randomUUID());
    const replace = replaceLosesRaces(container, 2);
    try {
      await expect(write()).resolves.toBeDefined();
      expect(replace.lost()).toBe(2);
    } finally {
      replace.mockRestore();
    }
  });
});

describe("a merge patch of an environment's settings under If-Match: * that loses a race", () => {
  it("when another writer changed another field meanwhile, then the patch is merged into that version: both changes are kept", async () => {
    const container = cosmos.database.container("settings");
    const store = new EnvironmentSettingsStore(container);
    const tenantId = randomUUID();
    await store.put(tenantId, "env-1", { syncEnabled: false, massDisableThresholdPercent: null, defaultSecurityRoleIds: [] }, '"default"', "admin");
    // The first replace meets another admin's change of the threshold (made just before it), and loses.
    const replace = replaceLosesRaces(container, 1, async (item) => {
      const { resource } = await item.read<Record<string, unknown>>();
      await item.replace({ ...resource!, massDisableThresholdPercent: 42 });
    });
    let result;
    try {
      result = await store.update(tenantId, "env-1", (current) => Promise.resolve({ ...current, syncEnabled: true }), "*", "admin");
    } finally {
      replace.mockRestore();
    }
    expect(replace.lost()).toBe(1);
    expect(result.before.value.massDisableThresholdPercent).toBe(42);
    expect((await store.get(tenantId, "env-1")).value).toMatchObject({ syncEnabled: true, massDisableThresholdPercent: 42 });
  });
});

describe("If-Match: * that keeps losing", () => {
  it("when every attempt loses a race, then 503 with Retry-After (a busy resource), not 412 (a * is never stale)", async () => {
    const container = cosmos.database.container("settings");
    const settings = new TenantSettings(container);
    const tenantId = randomUUID();
    await settings.put(tenantId, "automation", { paused: true }, '"default"', "admin");
    const replace = replaceLosesRaces(container, 100);
    try {
      const err = await settings.put(tenantId, "automation", { paused: false }, "*", "admin").catch((e: unknown) => e);
      expect((err as AppError).status).toBe(503);
      expect((err as AppError).retryAfterSeconds).toBe(1);
      expect(replace.lost()).toBe(5);
    } finally {
      replace.mockRestore();
    }
  });
});

describe("PUT /tenants/{tenantId} without If-Match while others write the tenant", () => {
  it("when several rounds of the write lose to other writers, then it is read again and made (last writer wins), not a 409", async () => {
    const container = cosmos.database.container("tenants");
    const audit = { append: () => Promise.resolve({}) } as unknown as AuditLog;
    const registry = new TenantRegistry(container, audit);
    const tenantId = randomUUID();
    const by = { objectId: randomUUID(), isApplication: false } as Principal;
    await registry.onboard(tenantId, { displayName: "first" }, by);
    const replace = replaceLosesRaces(container, 4);
    try {
      const done = await registry.onboard(tenantId, { displayName: "second" }, by);
      expect(done.tenant.displayName).toBe("second");
      expect(replace.lost()).toBe(4);
    } finally {
      replace.mockRestore();
    }
  });
});
