import {
  ClientAssertionCredential, ClientSecretCredential, ManagedIdentityCredential, type AccessToken, type GetTokenOptions, type TokenCredential,
} from "@azure/identity";
import type { AppConfig } from "../config/config.js";
import { AppError } from "../errors/app-error.js";

/**
 * Tokens for Graph, Dataverse and the Power Platform API, per customer tenant:
 * - managed-identity: the Function App's identity (its home tenant only);
 * - federated-app: a multi-tenant app registration whose credential is a token of the managed
 *   identity (workload identity federation), so no secret exists anywhere;
 * - client-secret: the local simulated cloud only (config refuses it elsewhere).
 * One credential per tenant per process: @azure/identity caches tokens inside it.
 */
export function credentialProvider(config: AppConfig): (tenantId: string) => TokenCredential {
  const cache = new Map<string, TokenCredential>();
  const managedIdentity = () =>
    new ManagedIdentityCredential(config.MANAGED_IDENTITY_CLIENT_ID ? { clientId: config.MANAGED_IDENTITY_CLIENT_ID } : {});
  let mi: ManagedIdentityCredential | undefined;
  const authority = { authorityHost: config.ENTRA_AUTHORITY_HOST, disableInstanceDiscovery: config.APP_ENV === "local" };

  const make = (tenantId: string): TokenCredential => {
    switch (config.MS_API_AUTH) {
      case "managed-identity":
        return (mi ??= managedIdentity());
      case "federated-app": {
        const assertion = (mi ??= managedIdentity());
        return new ClientAssertionCredential(tenantId, config.MS_API_CLIENT_ID ?? "", async () => {
          const token = await assertion.getToken("api://AzureADTokenExchange/.default");
          return token.token;
        }, authority);
      }
      case "client-secret":
        return new ClientSecretCredential(tenantId, config.MS_API_CLIENT_ID ?? "", config.MS_API_CLIENT_SECRET ?? "", authority);
    }
  };

  return (tenantId) => {
    let credential = cache.get(tenantId);
    if (!credential) {
      credential = config.MS_API_AUTH === "managed-identity" ? make(tenantId) : tenantChecked(make(tenantId), tenantId, config.ENTRA_AUTHORITY_HOST);
      cache.set(tenantId, credential);
    }
    return credential;
  };
}

/**
 * MSAL reports a tenant Entra does not know (deleted, or never existed) as `endpoints_resolution_error`
 * - its metadata could not be read -, which reads like an outage and was answered "try again later"
 * for ever. On that error the tenant's metadata is read once more: Entra's 400 `invalid_tenant`
 * (AADSTS90002) makes it a refusal (502 token-refused), anything else stays the outage it seemed.
 */
function tenantChecked(credential: TokenCredential, tenantId: string, authorityHost: string): TokenCredential {
  return {
    getToken: async (scopes, options) => {
      try {
        return await credential.getToken(scopes, options);
      } catch (err) {
        if (!(err instanceof Error && err.message.includes("endpoints_resolution_error"))) throw err;
        const refusal = await tenantRefusal(authorityHost, tenantId);
        if (refusal) throw new TokenRefusedError(typeof scopes === "string" ? scopes : scopes.join(" "), refusal, 400);
        throw err;
      }
    },
  };
}

async function tenantRefusal(authorityHost: string, tenantId: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${authorityHost.replace(/\/$/, "")}/${encodeURIComponent(tenantId)}/v2.0/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) });
    if (res.status !== 400) return undefined;
    const body = (await res.json()) as { error?: unknown; error_codes?: unknown };
    if (body.error !== "invalid_tenant") return undefined;
    const code = Array.isArray(body.error_codes) && typeof body.error_codes[0] === "number" ? ` AADSTS${body.error_codes[0]}` : "";
    return `invalid_tenant${code}: Microsoft Entra ID does not know the tenant ${tenantId}`;
  } catch {
    return undefined;
  }
}

/**
 * A credential's token, reused until 5 minutes before it expires: asking the credential each time
 * costs an MSAL cache lookup per request (~0.4 ms of CPU, more than the rest of a Graph call's
 * client work). Requests with claims (a CAE challenge) or another tenant ask the credential.
 */
const reused = new WeakMap<TokenCredential, Map<string, AccessToken>>();

/**
 * Microsoft Entra ID refused to issue a token (4xx: the tenant is unknown, the app is not consented
 * or not allowed, its credential is wrong): no retry changes that, so it is Microsoft's answer (502),
 * not an outage. Named, so the Graph client, which wraps whatever its token provider throws, keeps
 * the kind (`GraphError.code`).
 */
export class TokenRefusedError extends Error {
  override readonly name = "TokenRefused";
  constructor(readonly scope: string, readonly reason: string, readonly status: number) {
    super(`Microsoft Entra ID refused a token for ${scope} (${status} ${reason}): is the app registered and consented in this tenant?`);
  }

  /** What callers see: Microsoft's answer (502 `token-refused`), which no retry changes. */
  toAppError(): AppError {
    return new AppError("upstream", this.message, { code: TOKEN_REFUSED, cause: this });
  }
}

export const TOKEN_REFUSED = "token-refused";

/** OAuth errors by which Entra refuses a client for good (RFC 6749 5.2); others (server_error, temporarily_unavailable) pass. */
const REFUSALS = /^(invalid_client|unauthorized_client|invalid_request|invalid_grant|invalid_scope|invalid_resource|invalid_tenant)\b/;

async function getToken(credential: TokenCredential, scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
  try {
    return await credential.getToken(scopes, options);
  } catch (err) {
    const scope = typeof scopes === "string" ? scopes : scopes.join(" ");
    // AuthenticationError (HTTP credentials): its status and OAuth error.
    const status = (err as { statusCode?: unknown }).statusCode;
    if (typeof status === "number" && status >= 400 && status < 500 && status !== 429) {
      const response = (err as { errorResponse?: { error?: string } }).errorResponse;
      throw new TokenRefusedError(scope, response?.error ?? "refused", status);
    }
    // MSAL-based credentials (client secret, client assertion) report Entra's refusal as an
    // AuthenticationRequiredError whose message starts with the OAuth error ("unauthorized_client: … AADSTS700016 …").
    if (err instanceof Error && err.name === "AuthenticationRequiredError") {
      const refusal = REFUSALS.exec(err.message)?.[1];
      const code = /AADSTS\d+/.exec(err.message)?.[0];
      if (refusal) throw new TokenRefusedError(scope, code ? `${refusal} ${code}` : refusal, 400);
    }
    throw err;
  }
}

export async function reusedToken(credential: TokenCredential, scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
  if (options?.claims || options?.tenantId) return getToken(credential, scopes, options);
  const key = typeof scopes === "string" ? scopes : scopes.join(" ");
  let byScope = reused.get(credential);
  if (!byScope) reused.set(credential, (byScope = new Map<string, AccessToken>()));
  const cached = byScope.get(key);
  if (cached && cached.expiresOnTimestamp - Date.now() > 300_000) return cached;
  const token = await getToken(credential, scopes, options);
  if (token) byScope.set(key, token);
  return token;
}

/**
 * The Graph client's authentication provider, on the reused token. (The package's
 * TokenCredentialAuthenticationProvider also builds an Error - stack trace and all - on every call,
 * in case it needs one: ~60 us per Graph request.)
 */
export function reusedTokenProvider(credential: TokenCredential, scope: string): { getAccessToken(): Promise<string> } {
  return {
    async getAccessToken() {
      const token = await reusedToken(credential, scope);
      if (!token) throw new AppError("unavailable", "No access token for Microsoft Graph.", { retryAfterSeconds: 5 });
      return token.token;
    },
  };
}
