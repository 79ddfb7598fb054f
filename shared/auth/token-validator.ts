import { createRemoteJWKSet, jwtVerify, errors as joseErrors, type JWTPayload } from "jose";
import { z } from "zod";
import { AppError } from "../errors/app-error.js";
import { rolesFromWids, type DirectoryRole } from "./roles.js";

/** Who is calling, as established from a validated Entra token. */
export interface Principal {
  tenantId: string;
  /** Object id of the user or service principal. */
  objectId: string;
  /** Client id of the calling application (azp / appid). */
  appId: string | undefined;
  isApplication: boolean;
  directoryRoles: DirectoryRole[];
  appRoles: string[];
  name: string | undefined;
}

const claimsSchema = z.object({
  tid: z.guid(),
  oid: z.guid(),
  ver: z.enum(["1.0", "2.0"]).optional(),
  azp: z.string().optional(),
  appid: z.string().optional(),
  idtyp: z.string().optional(),
  wids: z.array(z.string()).optional(),
  roles: z.array(z.string()).optional(),
  scp: z.string().optional(),
  name: z.string().optional(),
});

export interface TokenValidatorOptions {
  /** e.g. https://login.microsoftonline.com; issuer per tenant is <host>/<tid>/v2.0. */
  authorityHost: string;
  audiences: readonly string[];
  /** Override of the key set (tests). Defaults to <authorityHost>/common/discovery/v2.0/keys. */
  jwksUri?: string;
  clockToleranceSeconds?: number;
  /** Clock (tests). */
  now?: () => number;
}

export type TokenValidator = (authorizationHeader: string | null) => Promise<Principal>;

const unauthorized = (detail: string) => new AppError("unauthorized", detail);

/**
 * A token that passed validation is remembered (by its exact text) until it expires, at most
 * VERIFIED_TTL_MS: callers such as sign-in event relays send the same token with every request for
 * an hour, and checking its RS256 signature again each time was the largest cost of ingesting an
 * event. Expiry and not-before are still checked on every use; only the signature and the claims,
 * which cannot change for the same text, are not recomputed.
 */
const VERIFIED_TTL_MS = 10 * 60_000;
const VERIFIED_MAX = 1000;

/**
 * Validates an Entra bearer token: signature against the authority's JWKS (cached and refreshed by
 * jose on unknown kid), audience, expiry, and issuer per `tid` (v2 `<authority>/<tid>/v2.0`, and
 * v1 `https://sts.windows.net/<tid>/` for the public cloud).
 */
export function createTokenValidator(opts: TokenValidatorOptions): TokenValidator {
  const jwks = createRemoteJWKSet(new URL(opts.jwksUri ?? `${opts.authorityHost}/common/discovery/v2.0/keys`), {
    cacheMaxAge: 6 * 3600_000,
    cooldownDuration: 30_000,
    timeoutDuration: 5000,
  });
  const publicCloud = opts.authorityHost === "https://login.microsoftonline.com";
  const now = opts.now ?? Date.now;
  const toleranceMs = (opts.clockToleranceSeconds ?? 60) * 1000;
  const verified = new Map<string, { principal: Principal; expMs: number; nbfMs: number; until: number }>();

  return async (header) => {
    const match = /^Bearer\s+(\S+)$/i.exec(header?.trim() ?? "");
    const jwt = match?.[1];
    if (!jwt) {
      const detail = header?.trim() ? "The Authorization header is not a bearer token (Authorization: Bearer <token>)." : "A bearer token is required (Authorization: Bearer <token>).";
      // No bearer token at all (none, or another scheme): the challenge names no error (RFC 6750 3.1).
      throw new AppError("unauthorized", detail, { noCredentials: true });
    }
    const t = now();
    const known = verified.get(jwt);
    if (known && t < known.until) {
      if (t >= known.expMs + toleranceMs) throw unauthorized("The token has expired.");
      if (t >= known.nbfMs - toleranceMs) return known.principal;
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(jwt, jwks, {
        audience: [...opts.audiences],
        algorithms: ["RS256"],
        clockTolerance: opts.clockToleranceSeconds ?? 60,
        requiredClaims: ["exp", "iss", "aud", "tid"],
        currentDate: new Date(t),
      }));
    } catch (err) {
      throw describeJoseError(err);
    }
    const principal = principalOf(payload, opts.authorityHost, publicCloud);
    if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
    verified.set(jwt, { principal, expMs: (payload.exp ?? 0) * 1000, nbfMs: (payload.nbf ?? 0) * 1000, until: t + VERIFIED_TTL_MS });
    return principal;
  };
}

function principalOf(payload: JWTPayload, authorityHost: string, publicCloud: boolean): Principal {
  const parsed = claimsSchema.safeParse(payload);
  if (!parsed.success) throw unauthorized("The token lacks the claims tid and oid.");
  const c = parsed.data;
  const expectedIssuers = [`${authorityHost}/${c.tid}/v2.0`];
  if (publicCloud) expectedIssuers.push(`https://sts.windows.net/${c.tid}/`);
  if (!expectedIssuers.includes(String(payload.iss))) throw unauthorized("The token's issuer does not match its tenant.");
  const isApplication = c.idtyp === "app" || (c.scp === undefined && (c.roles?.length ?? 0) > 0 && !c.wids);
  return Object.freeze({
    tenantId: c.tid,
    objectId: c.oid,
    appId: c.azp ?? c.appid,
    isApplication,
    directoryRoles: Object.freeze(rolesFromWids(c.wids ?? [])) as DirectoryRole[],
    appRoles: Object.freeze(c.roles ?? []) as string[],
    name: c.name,
  });
}

function describeJoseError(err: unknown): AppError {
  if (err instanceof joseErrors.JWTExpired) return unauthorized("The token has expired.");
  if (err instanceof joseErrors.JWTClaimValidationFailed) return unauthorized(`The token's ${err.claim} claim is not accepted.`);
  if (err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JWKSNoMatchingKey) {
    return unauthorized("The token's signature is not valid.");
  }
  if (err instanceof joseErrors.JWKSTimeout || (err instanceof Error && /fetch failed|ECONNREFUSED/i.test(err.message))) {
    return new AppError("unavailable", "The identity provider's signing keys could not be fetched.", { retryAfterSeconds: 5, cause: err });
  }
  if (err instanceof joseErrors.JOSEError) return unauthorized("The token is not valid.");
  return new AppError("unavailable", "The token could not be validated.", { retryAfterSeconds: 5, cause: err });
}
