import { SimError } from "../http/errors.js";
import { parseJsonBody, type SimRequest, type SimResponse } from "../http/types.js";
import type { SimRuntime } from "../runtime.js";
import { composeFullName, type Row } from "../state/dataverse-db.js";
import { DirectoryRoleTemplateIds } from "../state/fixture.js";
import { isGuid } from "../state/ids.js";
import type { EnvironmentRec } from "../state/tenant-state.js";
import type { UserRec } from "../state/types.js";

const ENV_PREFIX = "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments";

function bapError(status: number, code: string, message: string, headers: Record<string, string> = {}): SimResponse {
  return { status, headers: { "content-type": "application/json; charset=utf-8", ...headers }, json: { error: { code, message } } };
}

/** The Power Platform admin API (api.bap.microsoft.com), under /bap. */
export class BapService {
  constructor(private readonly rt: SimRuntime) {}

  acceptedAudiences(): string[] {
    return ["https://api.bap.microsoft.com", "https://service.powerapps.com", "https://api.powerplatform.com", this.rt.urls.bap, this.rt.urls.origin];
  }

  kind(req: SimRequest): string {
    const rest = req.path.startsWith(ENV_PREFIX) ? req.path.slice(ENV_PREFIX.length) : null;
    if (rest === null) return "other";
    if (rest === "" || rest === "/") return "environments.list";
    if (/^\/[^/]+\/addUser$/i.test(rest)) return "environments.addUser";
    if (/^\/[^/]+$/.test(rest)) return "environments.get";
    return "other";
  }

  throttled(retryAfterSeconds: number): SimResponse {
    return bapError(429, "TooManyRequests", `Rate limit is exceeded. Try again in ${retryAfterSeconds} seconds.`, { "retry-after": String(retryAfterSeconds) });
  }

  internalError(): SimResponse {
    return bapError(500, "InternalServerError", "An internal server error occurred (injected fault).");
  }

  unavailable(retryAfterSeconds: number): SimResponse {
    return bapError(503, "ServiceUnavailable", "The service is temporarily unavailable.", { "retry-after": String(retryAfterSeconds) });
  }

  handle(req: SimRequest): SimResponse {
    const limits = this.rt.settings.rateLimits.bap;
    if (limits.enabled) {
      const key = req.caller?.appId ?? "anonymous";
      const r = this.rt.limiters.bapRequests.get(key).tryConsume(this.rt.now(), 1, limits.requestsPerWindow);
      if (!r.ok) return this.throttled(r.retryAfterSeconds);
    }
    if (!req.url.searchParams.get("api-version")) {
      return bapError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
    }
    if (!req.path.startsWith(ENV_PREFIX)) return bapError(404, "NotFound", `The requested resource '${req.path}' does not exist.`);
    const rest = req.path.slice(ENV_PREFIX.length);
    try {
      if (rest === "" || rest === "/") {
        if (req.method !== "GET") return bapError(405, "MethodNotAllowed", "The method is not allowed.");
        return this.json({ value: [...this.rt.state.environments.values()].map((e) => this.serialize(e)) });
      }
      const add = /^\/([^/]+)\/addUser$/i.exec(rest);
      if (add) {
        if (req.method !== "POST") return bapError(405, "MethodNotAllowed", "The method is not allowed.");
        return this.addUser(req, add[1] ?? "");
      }
      const one = /^\/([^/]+)$/.exec(rest);
      if (one && req.method === "GET") {
        const env = this.rt.state.environment(decodeURIComponent(one[1] ?? ""));
        if (!env) return bapError(404, "EnvironmentNotFound", `The environment '${one[1] ?? ""}' could not be found in the tenant '${this.rt.state.tenantId}'.`);
        return this.json(this.serialize(env));
      }
      return bapError(404, "NotFound", `The requested resource '${req.path}' does not exist.`);
    } catch (err) {
      if (err instanceof SimError) return bapError(err.status, err.code, err.message, err.headers);
      throw err;
    }
  }

  private json(body: unknown, status = 200): SimResponse {
    return { status, json: body, headers: { "content-type": "application/json; charset=utf-8" } };
  }

  serialize(env: EnvironmentRec): Record<string, unknown> {
    const m = env.meta;
    const dir = this.rt.state.directory;
    const creator = m.createdBy ? dir.users.get(m.createdBy.toLowerCase()) : undefined;
    const properties: Record<string, unknown> = {
      tenantId: dir.tenantId,
      azureRegion: m.azureRegion,
      displayName: m.displayName,
      description: "",
      createdTime: m.createdTime ?? "2024-01-01T00:00:00Z",
      createdBy: creator
        ? { id: creator.id, displayName: creator.displayName, email: creator.mail ?? creator.userPrincipalName, type: "User", tenantId: dir.tenantId, userPrincipalName: creator.userPrincipalName }
        : { id: "SYSTEM", displayName: "SYSTEM", type: "NotSpecified" },
      lastModifiedTime: m.createdTime ?? "2024-01-01T00:00:00Z",
      provisioningState: "Succeeded",
      creationType: m.environmentSku === "Default" ? "DefaultTenant" : "User",
      environmentSku: m.environmentSku,
      isDefault: m.environmentSku === "Default",
      clientUris: {
        admin: `https://admin.powerplatform.microsoft.com/environments/${m.id}/hub`,
        maker: `https://make.powerapps.com/environments/${m.id}/home`,
      },
      runtimeEndpoints: { "microsoft.BusinessAppPlatform": this.rt.urls.bap },
      databaseType: env.db ? "CommonDataService" : "None",
      retentionPeriod: "P7D",
      states: { management: { id: "Ready" }, runtime: { id: "Enabled" } },
      updateCadence: { id: "Frequent" },
      protectionStatus: { keyManagedBy: "Microsoft" },
      connectedGroups: [],
    };
    if (m.expirationTime) properties.expirationTime = m.expirationTime;
    if (env.db) {
      const url = this.rt.urls.dataverse(m.id);
      properties.linkedEnvironmentMetadata = {
        resourceId: env.db.organizationId,
        friendlyName: m.displayName,
        uniqueName: `unq${m.id.replace(/-/g, "").slice(0, 24)}`,
        domainName: env.db.domainName,
        version: "9.2.25031.00185",
        instanceUrl: `${url}/`,
        instanceApiUrl: url,
        baseLanguage: 1033,
        instanceState: "Ready",
        createdTime: m.createdTime ?? "2024-01-01T00:00:00Z",
        backgroundOperationsState: "Enabled",
        scaleGroup: "SIMSG01",
        platformSku: "Standard",
        ...(m.securityGroupId ? { securityGroupId: m.securityGroupId } : {}),
      };
    }
    return {
      id: `${ENV_PREFIX}/${m.id}`,
      type: "Microsoft.BusinessAppPlatform/scopes/environments",
      location: m.location,
      name: m.id,
      properties,
    };
  }

  /**
   * POST …/environments/{id}/addUser {"ObjectId": "…"}: what "force sync user" does. Creates,
   * re-enables or refreshes the user's systemuser from the directory, enforcing the platform's
   * rules (environment type, security group, license).
   */
  private addUser(req: SimRequest, environmentId: string): SimResponse {
    const env = this.rt.state.environment(decodeURIComponent(environmentId));
    if (!env) return bapError(404, "EnvironmentNotFound", `The environment '${environmentId}' could not be found in the tenant '${this.rt.state.tenantId}'.`);
    let body: unknown;
    try {
      body = parseJsonBody(req);
    } catch {
      return bapError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.");
    }
    const objectId: unknown = body && typeof body === "object" ? Object.entries(body as Record<string, unknown>).find(([k]) => k.toLowerCase() === "objectid")?.[1] : undefined;
    if (!isGuid(objectId)) return bapError(400, "InvalidRequestContent", "The request body must contain 'ObjectId', the Microsoft Entra object id of the user.");
    if (!env.db) return bapError(400, "EnvironmentHasNoDatabase", `The environment '${env.meta.id}' has no Dataverse database; users cannot be added to it.`);
    const dir = this.rt.state.directory;
    const user = dir.activeUser(objectId);
    if (!user) return bapError(404, "UserNotFound", `The user with object id '${objectId}' was not found in the tenant '${dir.tenantId}'.`);

    const roles = new Set(dir.rolesOf(user.id));
    const tenantAdmin = roles.has(DirectoryRoleTemplateIds.globalAdministrator) || roles.has(DirectoryRoleTemplateIds.powerPlatformAdministrator);
    const dynamicsAdmin = roles.has(DirectoryRoleTemplateIds.dynamics365Administrator);
    const licensed = dir.activeSkus(user).size > 0;

    if (env.meta.environmentSku === "Developer" && env.meta.createdBy && env.meta.createdBy.toLowerCase() !== user.id) {
      return bapError(403, "DeveloperEnvironmentOwnerOnly", "A developer environment can only have its owner as a user.");
    }
    const groupId = env.meta.securityGroupId?.toLowerCase();
    if (groupId && !tenantAdmin) {
      const group = dir.groups.get(groupId);
      const member = group ? group.members.has(user.id) || group.owners.includes(user.id) : false;
      if (!member) {
        return bapError(403, "UserNotInSecurityGroup", `The user '${user.userPrincipalName}' is not a member of the environment's security group '${groupId}'.`);
      }
    }
    if (!licensed && !tenantAdmin && !dynamicsAdmin && env.meta.environmentSku !== "Teams") {
      return bapError(400, "userNotLicensed", `The user '${user.userPrincipalName}' does not have a license that grants access to this environment.`);
    }
    const existing = env.db.findByAadObjectId(user.id);
    const fields = profileFields(user, licensed);
    if (existing) {
      const patch: Row = { ...fields };
      // Internal email is refreshed until someone edits it in Dataverse (then never again).
      if (existing.platformEmail === null || existing.data.internalemailaddress !== existing.platformEmail) delete patch.internalemailaddress;
      if (existing.data.accessmode === 1 && licensed) patch.accessmode = 0;
      env.db.update(existing, patch, { skipValidation: true });
      if (patch.internalemailaddress !== undefined) existing.platformEmail = String(patch.internalemailaddress);
    } else {
      const rec = env.db.insert({
        ...fields,
        azureactivedirectoryobjectid: user.id,
        fullname: composeFullName(user.givenName, user.surname, user.displayName),
        accessmode: !licensed && (tenantAdmin || dynamicsAdmin) ? 1 : 0,
      }, { skipValidation: true });
      rec.platformEmail = typeof fields.internalemailaddress === "string" ? fields.internalemailaddress : null;
    }
    return this.json({});
  }
}

function profileFields(user: UserRec, licensed: boolean): Row {
  return {
    domainname: user.userPrincipalName,
    windowsliveid: user.userPrincipalName,
    internalemailaddress: user.mail ?? user.userPrincipalName,
    firstname: user.givenName,
    lastname: user.surname,
    title: user.jobTitle,
    mobilephone: user.mobilePhone,
    address1_telephone1: user.businessPhones[0] ?? null,
    address1_line1: user.streetAddress,
    address1_city: user.city,
    address1_stateorprovince: user.state,
    address1_country: user.country,
    isdisabled: !user.accountEnabled,
    islicensed: licensed,
    azurestate: 0,
  };
}
