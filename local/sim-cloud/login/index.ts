import { randomUUID } from "node:crypto";
import { SignJWT, importJWK } from "jose";
import type { DevSigningKey } from "../../dev-identity.js";
import { jsonResponse, type SimRequest, type SimResponse } from "../http/types.js";
import type { TenantState } from "../state/tenant-state.js";

/**
 * A stand-in for login.microsoftonline.com: OpenID metadata, the signing keys (JWKS) and the
 * client-credentials token endpoint. Paths are relative to the authority host (…/login).
 */
export class LoginService {
  private readonly privateKey: ReturnType<typeof importJWK>;

  constructor(
    private readonly key: DevSigningKey,
    private readonly authorityHost: string,
    private readonly state: () => TenantState,
    private readonly tokenLifetime: () => number,
    private readonly now: () => number,
  ) {
    this.privateKey = importJWK(key.privateJwk, "RS256");
  }

  kind(req: SimRequest): string {
    if (/\/keys$/.test(req.path)) return "keys";
    if (/openid-configuration$/.test(req.path)) return "openid-configuration";
    if (/\/token$/.test(req.path)) return "token";
    return "other";
  }

  async handle(req: SimRequest): Promise<SimResponse> {
    const segments = req.path.split("/").filter(Boolean);
    const tenant = segments[0] ?? "";
    const rest = segments.slice(1).join("/");
    if (req.method === "GET" && (rest === "discovery/v2.0/keys" || rest === "discovery/keys")) {
      return jsonResponse(200, { keys: [this.key.publicJwk] }, { "cache-control": "max-age=86400, private" });
    }
    if (req.method === "GET" && tenant === "common" && rest === "discovery/instance") {
      const host = new URL(this.authorityHost).host;
      return jsonResponse(200, {
        tenant_discovery_endpoint: `${this.authorityHost}/common/v2.0/.well-known/openid-configuration`,
        "api-version": "1.1",
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      });
    }
    if (req.method === "GET" && (rest === "v2.0/.well-known/openid-configuration" || rest === ".well-known/openid-configuration")) {
      const resolved = this.resolveTenant(tenant);
      if (!resolved) return tenantNotFound(tenant);
      return jsonResponse(200, this.openIdConfiguration(resolved === "*" ? tenant : resolved, resolved === "*"));
    }
    if (rest === "oauth2/v2.0/token" || rest === "oauth2/token") {
      if (req.method !== "POST") return jsonResponse(405, aadError("invalid_request", 900561, "The endpoint only accepts POST requests."));
      return this.token(req, tenant);
    }
    return jsonResponse(404, aadError("invalid_request", 900023, `The path '${req.path}' is not an endpoint of the simulated authority.`));
  }

  /** Tenant id for a path segment: the tenant's id or verified domain; "*" for common/organizations. */
  private resolveTenant(segment: string): string | null {
    const s = segment.toLowerCase();
    const dir = this.state().directory;
    if (s === "common" || s === "organizations") return "*";
    if (s === dir.tenantId || s === dir.defaultDomain.toLowerCase()) return dir.tenantId;
    return null;
  }

  private openIdConfiguration(tenant: string, multiTenant: boolean): Record<string, unknown> {
    const base = `${this.authorityHost}/${tenant}`;
    const issuerTenant = multiTenant ? "{tenantid}" : tenant;
    return {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ["query", "fragment", "form_post"],
      subject_types_supported: ["pairwise"],
      id_token_signing_alg_values_supported: ["RS256"],
      response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
      scopes_supported: ["openid", "profile", "email", "offline_access"],
      issuer: `${this.authorityHost}/${issuerTenant}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${this.authorityHost}/oidc/userinfo`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
      kerberos_endpoint: `${base}/kerberos`,
      tenant_region_scope: "EU",
      cloud_instance_name: "microsoftonline.com",
      cloud_graph_host_name: "graph.windows.net",
      msgraph_host: "graph.microsoft.com",
      rbac_url: "https://pas.windows.net",
    };
  }

  private async token(req: SimRequest, tenantSegment: string): Promise<SimResponse> {
    const tenant = this.resolveTenant(tenantSegment);
    if (!tenant || tenant === "*") return tenantNotFound(tenantSegment);
    const form = new URLSearchParams(req.body.toString("utf8"));
    let clientId = form.get("client_id") ?? "";
    let clientSecret = form.get("client_secret") ?? "";
    const basic = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? "");
    if (basic?.[1]) {
      const [id, secret] = Buffer.from(basic[1], "base64").toString("utf8").split(":");
      clientId = decodeURIComponent(id ?? "");
      clientSecret = decodeURIComponent(secret ?? "");
    }
    const grantType = form.get("grant_type");
    if (grantType !== "client_credentials") {
      return jsonResponse(400, aadError("unsupported_grant_type", 70003, `The app requested an unsupported grant type '${grantType ?? ""}'. The simulated authority supports client_credentials only.`));
    }
    const sp = this.state().directory.spByAppId.get(clientId.toLowerCase());
    if (!sp) {
      return jsonResponse(400, aadError("unauthorized_client", 700016, `Application with identifier '${clientId}' was not found in the directory '${tenant}'.`));
    }
    // A service principal without a registered secret accepts any (local convenience, documented).
    if (sp.clientSecret !== null && sp.clientSecret !== clientSecret) {
      return jsonResponse(401, aadError("invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID."));
    }
    const scopes = (form.get("scope") ?? "").split(/\s+/).filter(Boolean);
    const scope = scopes.find((s) => s.endsWith("/.default"));
    if (!scope) {
      return jsonResponse(400, aadError("invalid_scope", 1002012, "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."));
    }
    const resource = scope.slice(0, -"/.default".length);
    const lifetime = this.tokenLifetime();
    const nowSec = Math.floor(this.now() / 1000);
    const issuer = `${this.authorityHost}/${tenant}/v2.0`;
    const accessToken = await new SignJWT({
      tid: tenant,
      oid: sp.id,
      azp: sp.appId,
      appid: sp.appId,
      azpacr: "1",
      appidacr: "1",
      idp: issuer,
      idtyp: "app",
      roles: sp.roles,
      ver: "2.0",
      uti: randomUUID().replace(/-/g, "").slice(0, 22),
    })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: this.key.kid })
      .setIssuer(issuer)
      .setAudience(resource)
      .setSubject(sp.id)
      .setIssuedAt(nowSec)
      .setNotBefore(nowSec)
      .setExpirationTime(nowSec + lifetime)
      .sign(await this.privateKey);
    return jsonResponse(200, { token_type: "Bearer", expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken }, { "cache-control": "no-store, no-cache" });
  }
}

function aadError(error: string, code: number, description: string): Record<string, unknown> {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = new Date().toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  return {
    error,
    error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  };
}

function tenantNotFound(tenant: string): SimResponse {
  return jsonResponse(400, aadError("invalid_tenant", 90002, `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`));
}
