import { describe, expect, it } from "vitest";
import { authorize } from "../../../shared/auth/authorize.js";
import { ACCESS } from "../../../shared/auth/roles.js";
import type { Principal } from "../../../shared/auth/token-validator.js";
import { AppError } from "../../../shared/errors/app-error.js";

const T = "0b0b0b0b-0000-4000-8000-000000000001";
const OTHER = "0b0b0b0b-0000-4000-8000-000000000002";
const user = (roles: Principal["directoryRoles"], tenantId = T): Principal => ({
  tenantId, objectId: "u", appId: "a", isApplication: false, directoryRoles: roles, appRoles: [], name: undefined,
});
const app = (roles: string[]): Principal => ({ ...user([]), isApplication: true, appRoles: roles });
const onboarded = (ids: string[]) => ({ isTenantOnboarded: (t: string) => Promise.resolve(ids.includes(t)) });

async function code(p: Principal, access: Parameters<typeof authorize>[1], routeTenantId: string | undefined, known = [T]) {
  const err = await authorize(p, access, { routeTenantId, ...onboarded(known) }).then(() => "allowed", (e: unknown) => e);
  if (err === "allowed") return err;
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).status).toBe(403);
  return (err as AppError).code;
}

describe("authorization (P4)", () => {
  it("when the role is in the endpoint's set, then allowed", async () => {
    expect(await code(user(["License Administrator"]), ACCESS.licenseWrite, T)).toBe("allowed");
    expect(await code(user(["Global Reader"]), ACCESS.read, T)).toBe("allowed");
  });

  it("when the role is not in the endpoint's set, then 403 missing-role", async () => {
    expect(await code(user(["Global Reader"]), ACCESS.licenseWrite, T)).toBe("missing-role");
    expect(await code(user(["License Administrator"]), ACCESS.globalReports, T)).toBe("missing-role");
    expect(await code(user(["Dynamics 365 Administrator"]), ACCESS.tenantAdminWrite, T)).toBe("missing-role");
  });

  it("when an admin or app token reaches an endpoint for Entra's custom extension (E1), then 403: only Entra's token, checked by its handler, is accepted", async () => {
    expect(await code(user(["Global Administrator"]), ACCESS.entraExtension, T)).toBe("entra-extension-only");
    expect(await code(app(["SignInEvents.Send"]), ACCESS.entraExtension, T)).toBe("entra-extension-only");
  });

  it("when the route's tenant differs from the token's, then 403 wrong-tenant", async () => {
    expect(await code(user(["Global Administrator"]), ACCESS.read, OTHER, [T, OTHER])).toBe("wrong-tenant");
  });

  it("when the route's tenant id is not a GUID, then 400 naming params.tenantId, not 403 wrong-tenant", async () => {
    const err = await authorize(user(["Global Administrator"]), ACCESS.read, { routeTenantId: "contoso.onmicrosoft.com", ...onboarded([T]) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).status).toBe(400);
    expect((err as AppError).errors).toEqual([{ path: "params.tenantId", message: expect.stringMatching(/GUID/) }]);
    expect(await code(user(["Global Administrator"]), ACCESS.read, T.toUpperCase())).toBe("allowed");
  });

  it("when the tenant is not onboarded, then 403 tenant-not-onboarded, except for onboarding itself", async () => {
    expect(await code(user(["Global Administrator"]), ACCESS.read, T, [])).toBe("tenant-not-onboarded");
    expect(await code(user(["Global Administrator"]), ACCESS.tenantOnboard, T, [])).toBe("allowed");
    expect(await code(user(["User Administrator"]), ACCESS.tenantOnboard, T, [])).toBe("missing-role");
  });

  it("when an application token calls, then only its app role counts", async () => {
    expect(await code(app(["SignInEvents.Send"]), ACCESS.signInEventsSend, T)).toBe("allowed");
    expect(await code(app([]), ACCESS.signInEventsSend, T)).toBe("missing-role");
    expect(await code(user(["Global Administrator"]), ACCESS.signInEventsSend, T)).toBe("missing-role");
    expect(await code(app(["SignInEvents.Send"]), ACCESS.read, T)).toBe("missing-role");
    // Reading an event: any admin, or an application with the role (its handler shows it only its own events).
    expect(await code(app(["SignInEvents.Send"]), ACCESS.signInEventRead, T)).toBe("allowed");
    expect(await code(app([]), ACCESS.signInEventRead, T)).toBe("missing-role");
    // A user (delegated) token with the role assigned to the user is not an application's.
    expect(await code({ ...user([]), appRoles: ["SignInEvents.Send"] }, ACCESS.signInEventsSend, T)).toBe("missing-role");
  });
});
