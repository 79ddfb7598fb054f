import { invalidRouteTenantId } from "../http/conventions.js";
import { isGuid } from "../ids.js";
import { AppError } from "../errors/app-error.js";
import { createTokenValidator, type Principal, type TokenValidator } from "./token-validator.js";

/**
 * E1: checks that a call to the custom authentication extension endpoint comes from Microsoft
 * Entra, as documented for custom authentication extensions: a bearer token signed by the
 * authority (JWKS), issuer `<authority>/<tid>/v2.0` (v1 `sts.windows.net/<tid>/` in the public
 * cloud), audience = the extension's app registration, and `azp` (v2) or `appid` (v1) equal to the
 * caller application Entra uses for custom authentication extensions
 * (99045fe1-7639-4a75-9d4a-577b6ca3810f). The tenant must be the route's, and onboarded.
 *
 * Admin tokens are for another audience, so they never pass here (and this token never passes the
 * admin endpoints).
 */
export interface EntraExtensionAuthOptions {
  authorityHost: string;
  /** ENTRA_EXTENSION_AUDIENCES; empty or undefined: every call is refused. */
  audiences: readonly string[] | undefined;
  callerAppId: string;
  isTenantOnboarded(tenantId: string): Promise<boolean>;
}

export type EntraExtensionAuthenticator = (authorizationHeader: string | null, routeTenantId: string) => Promise<Principal>;

export function createEntraExtensionAuthenticator(opts: EntraExtensionAuthOptions): EntraExtensionAuthenticator {
  const validate: TokenValidator | undefined = opts.audiences?.length
    ? createTokenValidator({ authorityHost: opts.authorityHost, audiences: opts.audiences })
    : undefined;
  return async (header, routeTenantId) => {
    if (!validate) {
      throw new AppError("unauthorized", "The Entra custom authentication extension endpoint is not configured (ENTRA_EXTENSION_AUDIENCES).", {
        code: "entra-extension-not-configured",
      });
    }
    const principal = await validate(header);
    if ((principal.appId ?? "").toLowerCase() !== opts.callerAppId.toLowerCase()) {
      throw new AppError("unauthorized", "The token was not issued to Microsoft Entra's custom authentication extension caller.", {
        code: "not-from-entra",
      });
    }
    // In the order every route checks (shared/auth/authorize.ts): the token, then the route's tenant id.
    if (!isGuid(routeTenantId)) throw invalidRouteTenantId();
    if (principal.tenantId.toLowerCase() !== routeTenantId.toLowerCase()) {
      throw new AppError("forbidden", "The token was issued for another tenant than the one in the route.", { code: "wrong-tenant" });
    }
    if (!(await opts.isTenantOnboarded(principal.tenantId))) {
      throw new AppError("forbidden", "This tenant is not onboarded.", { code: "tenant-not-onboarded" });
    }
    return principal;
  };
}
