import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportJWK, generateKeyPair } from "jose";
import { issueDevToken, type DevSigningKey } from "../../../local/dev-identity.js";
import { createTokenValidator, type TokenValidator } from "../../../shared/auth/token-validator.js";
import { DIRECTORY_ROLES } from "../../../shared/auth/roles.js";
import { AppError } from "../../../shared/errors/app-error.js";
import { startJwksServer } from "./jwks-server.js";

const AUTHORITY = "https://127.0.0.1:1/login";
const AUDIENCE = "api://license-control-plane";
const TENANT = randomUUID();

let jwks: Awaited<ReturnType<typeof startJwksServer>>;
let key: DevSigningKey;
let validate: TokenValidator;

beforeAll(async () => {
  jwks = await startJwksServer();
  key = jwks.key;
  validate = createTokenValidator({ authorityHost: AUTHORITY, audiences: [AUDIENCE], jwksUri: jwks.jwksUri });
});
afterAll(() => jwks.close());

const token = (over: Partial<Parameters<typeof issueDevToken>[1]> = {}) =>
  issueDevToken(key, { authorityHost: AUTHORITY, tenantId: TENANT, audience: AUDIENCE, wids: [DIRECTORY_ROLES["License Administrator"]], ...over });

async function rejection(header: string | null): Promise<AppError> {
  const err = await validate(header).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe("bearer token validation", () => {
  it("when the token is valid, then the principal carries tenant, object id and directory roles from wids", async () => {
    const oid = randomUUID();
    const p = await validate(`Bearer ${await token({ oid })}`);
    expect(p).toMatchObject({ tenantId: TENANT, objectId: oid, isApplication: false, directoryRoles: ["License Administrator"] });
  });

  it("when an application token carries app roles, then the principal is an application with those roles", async () => {
    const p = await validate(`Bearer ${await token({ wids: [], roles: ["SignInEvents.Send"], idtyp: "app" })}`);
    expect(p).toMatchObject({ isApplication: true, appRoles: ["SignInEvents.Send"], directoryRoles: [] });
  });

  it("when there is no token, then 401", async () => {
    expect((await rejection(null)).status).toBe(401);
    expect((await rejection("Basic abc")).status).toBe(401);
  });

  it("when the token has expired, then 401 saying so", async () => {
    const e = await rejection(`Bearer ${await token({ expiresInSeconds: -600 })}`);
    expect(e.status).toBe(401);
    expect(e.message).toMatch(/expired/);
  });

  it("when the audience is another API's, then 401", async () => {
    expect((await rejection(`Bearer ${await token({ audience: "api://someone-else" })}`)).status).toBe(401);
  });

  it("when the issuer is not the authority for the token's tenant, then 401", async () => {
    expect((await rejection(`Bearer ${await token({ authorityHost: "https://attacker.example/login" })}`)).status).toBe(401);
  });

  it("when the signature is made with another key under the same kid, then 401", async () => {
    const { privateKey } = await generateKeyPair("RS256", { extractable: true });
    const e = await rejection(`Bearer ${await token({ signWith: await exportJWK(privateKey) })}`);
    expect(e.status).toBe(401);
    expect(e.message).toMatch(/signature/);
  });
});
