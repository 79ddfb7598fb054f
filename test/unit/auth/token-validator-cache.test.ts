import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type * as Jose from "jose";
import { issueDevToken, type DevSigningKey } from "../../../local/dev-identity.js";
import { AppError } from "../../../shared/errors/app-error.js";
import { startJwksServer } from "./jwks-server.js";

// Counts signature checks: the validator remembers tokens it has verified.
const verifications = vi.hoisted(() => ({ count: 0 }));
vi.mock("jose", async (importOriginal) => {
  const jose = await importOriginal<typeof Jose>();
  return {
    ...jose,
    jwtVerify: (async (...args: Parameters<typeof jose.jwtVerify>) => {
      verifications.count++;
      return jose.jwtVerify(...args);
    }) as typeof jose.jwtVerify,
  };
});
const { createTokenValidator } = await import("../../../shared/auth/token-validator.js");

const AUTHORITY = "https://127.0.0.1:1/login";
const AUDIENCE = "api://license-control-plane";
const TENANT = randomUUID();
let jwks: Awaited<ReturnType<typeof startJwksServer>>;
let key: DevSigningKey;
let jwksUri: string;

beforeAll(async () => {
  jwks = await startJwksServer();
  ({ key, jwksUri } = jwks);
});
afterAll(() => jwks.close());

const token = (expiresInSeconds = 3600, audience = AUDIENCE) =>
  issueDevToken(key, { authorityHost: AUTHORITY, tenantId: TENANT, audience, roles: ["SignInEvents.Send"], idtyp: "app", expiresInSeconds });

describe("bearer token validation: verified tokens are remembered", () => {
  it("when the same token comes again, its signature is not checked again and the principal is the same", async () => {
    const validate = createTokenValidator({ authorityHost: AUTHORITY, audiences: [AUDIENCE], jwksUri });
    const jwt = await token();
    const before = verifications.count;
    const first = await validate(`Bearer ${jwt}`);
    const second = await validate(`Bearer ${jwt}`);
    expect(verifications.count - before).toBe(1);
    expect(second).toEqual(first);
    expect(Object.isFrozen(second)).toBe(true); // one caller cannot change what the next one gets
    await validate(`Bearer ${await token()}`); // another token is checked
    expect(verifications.count - before).toBe(2);
  });

  it("when a remembered token expires, it is refused", async () => {
    let offsetMs = 0;
    const validate = createTokenValidator({ authorityHost: AUTHORITY, audiences: [AUDIENCE], jwksUri, now: () => Date.now() + offsetMs });
    const jwt = await token(120);
    await validate(`Bearer ${jwt}`);
    offsetMs = 120_000 + 61_000; // past exp and the 60 s clock tolerance
    const err = await validate(`Bearer ${jwt}`).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).status).toBe(401);
    expect((err as AppError).message).toMatch(/expired/);
  });

  it("when a token was refused, it is checked again next time (refusals are not remembered)", async () => {
    const validate = createTokenValidator({ authorityHost: AUTHORITY, audiences: [AUDIENCE], jwksUri });
    const jwt = await token(3600, "api://someone-else");
    const before = verifications.count;
    await expect(validate(`Bearer ${jwt}`)).rejects.toBeInstanceOf(AppError);
    await expect(validate(`Bearer ${jwt}`)).rejects.toBeInstanceOf(AppError);
    expect(verifications.count - before).toBe(2);
  });

  it("after ten minutes a remembered token is verified again", async () => {
    let offsetMs = 0;
    const validate = createTokenValidator({ authorityHost: AUTHORITY, audiences: [AUDIENCE], jwksUri, now: () => Date.now() + offsetMs });
    const jwt = await token();
    const before = verifications.count;
    await validate(`Bearer ${jwt}`);
    offsetMs = 10 * 60_000 + 1;
    await validate(`Bearer ${jwt}`);
    expect(verifications.count - before).toBe(2);
  });
});
