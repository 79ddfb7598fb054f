import { importJWK, jwtVerify, errors as joseErrors, type JWK } from "jose";
import type { Caller } from "../http/types.js";

export interface VerifiedToken {
  caller: Caller;
  audience: string[];
  expiresAt: number;
}

export type VerifyFailure = { reason: "missing" | "malformed" | "expired" | "signature" | "issuer" | "tenant"; message: string };

const CACHE_LIMIT = 5000;

/**
 * Validates bearer tokens the way Microsoft's services do (signature by the tenant's key,
 * issuer, tenant, expiry). The imported key and recently seen tokens are cached, so a request
 * costs a map lookup after the first use of a token.
 */
export class TokenVerifier {
  private readonly key: ReturnType<typeof importJWK>;
  private readonly cache = new Map<string, VerifiedToken>();

  constructor(publicJwk: JWK, private readonly authorityHost: string, private readonly tenantId: () => string, private readonly now: () => number) {
    this.key = importJWK(publicJwk, "RS256");
  }

  async verify(authorization: string | undefined): Promise<VerifiedToken | VerifyFailure> {
    if (!authorization) return { reason: "missing", message: "Access token is empty." };
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (!match?.[1]) return { reason: "malformed", message: "Access token is empty." };
    const token = match[1];
    const nowSec = this.now() / 1000;
    const cached = this.cache.get(token);
    if (cached) {
      if (cached.expiresAt <= nowSec) return { reason: "expired", message: "Lifetime validation failed, the token is expired." };
      return cached;
    }
    let payload: Record<string, unknown>;
    try {
      const result = await jwtVerify(token, await this.key, { algorithms: ["RS256"], currentDate: new Date(this.now()), clockTolerance: 300 });
      payload = result.payload;
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) return { reason: "expired", message: "Lifetime validation failed, the token is expired." };
      if (err instanceof joseErrors.JWSSignatureVerificationFailed) return { reason: "signature", message: "IDX10511: Signature validation failed." };
      return { reason: "malformed", message: "IDX14100: JWT is not well formed." };
    }
    const tid = typeof payload.tid === "string" ? payload.tid.toLowerCase() : "";
    if (tid !== this.tenantId().toLowerCase()) return { reason: "tenant", message: `The token was issued for tenant '${tid}', not for this tenant.` };
    const issuer = typeof payload.iss === "string" ? payload.iss : "";
    const expectedIssuers = [`${this.authorityHost}/${tid}/v2.0`, `${this.authorityHost}/${this.tenantId()}/v2.0`];
    if (!expectedIssuers.includes(issuer)) return { reason: "issuer", message: `IDX10205: Issuer validation failed. Issuer: '${issuer}'.` };
    const aud = payload.aud;
    const audience = Array.isArray(aud) ? aud.map(String) : typeof aud === "string" ? [aud] : [];
    const text = (v: unknown) => (typeof v === "string" ? v : "");
    const appId = (text(payload.azp) || text(payload.appid)).toLowerCase();
    const verified: VerifiedToken = {
      caller: {
        objectId: (text(payload.oid) || text(payload.sub)).toLowerCase(),
        appId,
        tenantId: tid,
        roles: Array.isArray(payload.roles) ? payload.roles.map(String) : [],
        isApp: payload.idtyp === "app" || (!payload.scp && !payload.name && !payload.upn),
      },
      audience,
      expiresAt: typeof payload.exp === "number" ? payload.exp : nowSec + 3600,
    };
    if (this.cache.size >= CACHE_LIMIT) {
      const first = this.cache.keys().next().value;
      if (first !== undefined) this.cache.delete(first);
    }
    this.cache.set(token, verified);
    return verified;
  }
}

/** Whether one of the token's audiences is acceptable (compared without trailing slashes, case-insensitive). */
export function audienceMatches(audience: string[], accepted: string[]): boolean {
  const clean = (s: string) => s.replace(/\/+$/, "").toLowerCase();
  const ok = new Set(accepted.map(clean));
  return audience.some((a) => ok.has(clean(a)));
}
