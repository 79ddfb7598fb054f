import { describe, expect, it } from "vitest";
import type { DataverseClient } from "../../../shared/clients/dataverse.js";
import { createOrRefused } from "../../../shared/environments/application-users.js";
import { AppError } from "../../../shared/errors/app-error.js";
import type { PlatformEnvironment } from "../../../shared/sync/model.js";

/** D7: what Dataverse's answer to creating an application user becomes for the admin. */
const env = { id: "e1" } as PlatformEnvironment;
const answering = (status: number, message: string) =>
  ({ createSystemUser: () => Promise.reject(new AppError("upstream", `Dataverse answered ${status} when creating a systemuser: ${message}`, { extensions: { upstreamStatus: status, upstreamCode: "0x1" } })) }) as unknown as DataverseClient;
const exists = () => new AppError("conflict", "exists", { code: "application-user-exists" });
const create = (status: number, message = "no") => createOrRefused(answering(status, message), env, "app-1", "bu-1", exists);

describe("D7 creating an application user: Dataverse's refusals", () => {
  it("when Dataverse refuses the request (400: no such application in Entra ID), then 422 platform-refused with the lever", async () => {
    await expect(create(400, "No application with id app-1 was found")).rejects.toMatchObject({ kind: "businessRule", code: "platform-refused", extensions: { applicationId: "app-1" } });
  });

  it("when the record exists already (made meanwhile elsewhere), then 409 application-user-exists", async () => {
    await expect(create(412, "A record with matching key values already exists.")).rejects.toMatchObject({ kind: "conflict", code: "application-user-exists" });
  });

  it("when Dataverse refuses this product's own access (401/403) or fails, then it stays Microsoft's failure (502), not the admin's", async () => {
    for (const status of [401, 403, 500]) await expect(create(status)).rejects.toMatchObject({ kind: "upstream" });
  });
});
