import { randomUUID } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { AppError } from "../../../shared/errors/app-error.js";
import { TenantSettings } from "../../../shared/settings/tenant-settings.js";
import { useLocalCosmos } from "../../support/cosmos.js";

const cosmos = useLocalCosmos("settings-race");

describe("a settings write that loses a race after its If-Match check", () => {
  it("when another request changed the settings between the read and the write, then 412 with the settings' own message, not the storage's", async () => {
    const container = cosmos.database.container("settings");
    const settings = new TenantSettings(container);
    const tenantId = randomUUID();
    const first = await settings.put(tenantId, "automation", { paused: true }, '"default"', "admin");
    // The replace meets a changed document (Cosmos answers 412).
    const replace = vi.spyOn(container, "item").mockImplementation((id, pk) => {
      const real = container.database.container(container.id).item(id, pk);
      return Object.assign(Object.create(Object.getPrototypeOf(real) as object) as typeof real, real, {
        replace: () => Promise.reject(Object.assign(new Error("Precondition Failed"), { code: 412 })),
      });
    });
    try {
      const err = await settings.put(tenantId, "automation", { paused: false }, first.etag, "admin").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).status).toBe(412);
      expect((err as AppError).message).toMatch(/settings changed since you read them/);
    } finally {
      replace.mockRestore();
    }
  });
});
