import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import { localStateDir } from "./paths.js";

/**
 * The local stand-in for Entra ID's token signing key. It lives only under .local/ (git-ignored);
 * the simulated cloud publishes its public half as a JWKS at <authority>/{tenant}/discovery/v2.0/keys
 * and the app trusts that authority only in local mode on loopback (see shared/config).
 */
export interface DevSigningKey {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

const ALG = "RS256";

export async function ensureDevSigningKey(dir = path.join(localStateDir, "dev-identity")): Promise<DevSigningKey> {
  const file = path.join(dir, "signing-key.json");
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as DevSigningKey;
  const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
  const kid = randomUUID();
  const key: DevSigningKey = {
    kid,
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: ALG, use: "sig" },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: ALG, use: "sig" },
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, JSON.stringify(key), { mode: 0o600 });
  return key;
}

export function jwksOf(key: DevSigningKey): { keys: JWK[] } {
  return { keys: [key.publicJwk] };
}

export interface DevTokenRequest {
  /** e.g. https://127.0.0.1:8443/login (issuer becomes <authorityHost>/<tenantId>/v2.0) */
  authorityHost: string;
  tenantId: string;
  audience: string;
  /** Directory role template ids (the `wids` claim). */
  wids?: string[];
  /** App roles (the `roles` claim). */
  roles?: string[];
  /** Object id of the user or service principal; random when omitted. */
  oid?: string;
  /** Application (client) id of the caller. */
  appId?: string;
  /** "app" for application tokens, as Entra's optional `idtyp` claim. */
  idtyp?: "app" | "user";
  name?: string;
  /** Lifetime in seconds (default 3600). Negative makes an already expired token, for tests. */
  expiresInSeconds?: number;
  /** Sign with another key (tests: a bad signature). */
  signWith?: JWK;
  kid?: string;
}

export async function issueDevToken(key: DevSigningKey, req: DevTokenRequest): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const lifetime = req.expiresInSeconds ?? 3600;
  const oid = req.oid ?? randomUUID();
  const claims: Record<string, unknown> = {
    tid: req.tenantId,
    oid,
    ver: "2.0",
    azp: req.appId ?? "00000000-0000-0000-0000-00000000c0de",
  };
  if (req.wids?.length) claims.wids = req.wids;
  if (req.roles?.length) claims.roles = req.roles;
  if (req.idtyp) claims.idtyp = req.idtyp;
  if (req.name) claims.name = req.name;
  const signingKey = await importJWK(req.signWith ?? key.privateJwk, ALG);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: ALG, typ: "JWT", kid: req.kid ?? key.kid })
    .setIssuer(`${req.authorityHost.replace(/\/$/, "")}/${req.tenantId}/v2.0`)
    .setAudience(req.audience)
    .setSubject(oid)
    .setIssuedAt(lifetime < 0 ? now + lifetime - 60 : now)
    .setNotBefore(lifetime < 0 ? now + lifetime - 60 : now)
    .setExpirationTime(now + lifetime)
    .sign(signingKey);
}
