import type { TokenCredential } from "@azure/identity";
import { z } from "zod";
import { AppError } from "../errors/app-error.js";
import { environmentTypeSchema, type PlatformEnvironment } from "../sync/model.js";
import { meter } from "../sync/metrics.js";
import type { RetryBudget } from "./graph.js";
import { msFetch, readError, type MsRequestInit, type MsResponse } from "./ms-http.js";
import { parseUpstream } from "./upstream-body.js";
import { isGuid } from "../ids.js";

/**
 * The Power Platform admin API (api.bap.microsoft.com): the list of environments with their type,
 * Dataverse URL and security group (D15: the only source of those), and `addUser`, the lever that
 * adds, re-enables or refreshes a user in an environment (what "force sync user" uses, D0).
 */
export const POWER_PLATFORM_SCOPE = "https://service.powerapps.com/.default";
const ENVIRONMENTS_PATH = "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments";
const LIST_API_VERSION = "2020-10-01";
const ADD_USER_API_VERSION = "2023-06-01";

const bapEnvironmentSchema = z.object({
  name: z.string(),
  properties: z.object({
    displayName: z.string().nullish(),
    environmentSku: z.string().nullish(),
    azureRegion: z.string().nullish(),
    expirationTime: z.string().nullish(),
    createdBy: z.object({ id: z.string().nullish(), type: z.string().nullish() }).nullish(),
    linkedEnvironmentMetadata: z
      .object({
        instanceUrl: z.string(),
        domainName: z.string().nullish(),
        securityGroupId: z.string().nullish(),
      })
      .nullish(),
    // `$expand=properties.addons`: app passes allocated to the environment (shape unconfirmed; absent = none).
    addons: z.array(z.object({ addonType: z.string().nullish(), allocated: z.number().nullish() })).nullish(),
  }),
});
const bapListSchema = z.object({ value: z.array(z.unknown()), nextLink: z.string().nullish() });
/**
 * addUser's success answer: facts.md documents no body (the simulated cloud answers `{}`), so any JSON
 * object or no body at all is success - except an error envelope (`{"error": …}`) or a body that is
 * not JSON, which are Microsoft failing. Whether the record exists is checked where it is read next.
 */
const addUserAnswerSchema = z.object({ error: z.never().optional() }).loose();

/** Microsoft's Dataverse hosts (commercial and sovereign clouds). */
const DATAVERSE_HOST_SUFFIXES = [".dynamics.com", ".dynamics.us", ".microsoftdynamics.us", ".appsplatform.us", ".dynamics.cn", ".microsoftdynamics.de"];
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/**
 * D15: a Dataverse URL is called only when the platform reported it and it is a Dataverse host
 * (a loopback host only for the local simulated cloud).
 */
export function trustedDataverseUrl(instanceUrl: string, allowLoopback: boolean): string | null {
  let url: URL;
  try {
    url = new URL(instanceUrl);
  } catch {
    return null;
  }
  const host = url.hostname.toLowerCase();
  const loopback = LOOPBACK.has(host);
  if (loopback ? !allowLoopback : url.protocol !== "https:" || !DATAVERSE_HOST_SUFFIXES.some((s) => host.endsWith(s))) return null;
  if (url.search || url.hash || url.username || url.password) return null;
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}/`;
}

export function toPlatformEnvironment(raw: unknown, allowLoopback: boolean): PlatformEnvironment | null {
  const parsed = bapEnvironmentSchema.safeParse(raw);
  if (!parsed.success) return null;
  const p = parsed.data.properties;
  const type = environmentTypeSchema.safeParse(p.environmentSku);
  const linked = p.linkedEnvironmentMetadata;
  const instanceUrl = linked ? trustedDataverseUrl(linked.instanceUrl, allowLoopback) : null;
  const creatorId = p.createdBy?.id;
  return {
    id: parsed.data.name.toLowerCase(),
    displayName: p.displayName ?? parsed.data.name,
    type: type.success ? type.data : "Other",
    dataverse: linked && instanceUrl
      ? { instanceUrl, domainName: linked.domainName ?? null, securityGroupId: linked.securityGroupId?.toLowerCase() ?? null }
      : null,
    createdBy: creatorId && isGuid(creatorId) ? creatorId.toLowerCase() : null,
    appPassCapacity: (p.addons ?? []).some((a) => /apppass/i.test(a.addonType ?? "") && (a.allocated ?? 0) > 0),
    region: p.azureRegion ?? null,
    expirationTime: p.expirationTime ?? null,
  };
}

export type AddUserResult = { ok: true } | { ok: false; status: number; code: string; message: string };

export interface PowerPlatformClientOptions {
  baseUrl: string;
  credential: TokenCredential;
  budget: RetryBudget;
  /** Local simulated cloud: its Dataverse URLs are on loopback. */
  allowLoopbackDataverse: boolean;
}

export class PowerPlatformClient {
  constructor(private readonly opts: PowerPlatformClientOptions) {}

  private fetch(url: string, init: MsRequestInit, deadline?: number): Promise<MsResponse> {
    return meter.time("powerPlatform", () =>
      msFetch(url, init, {
        credential: this.opts.credential,
        scope: POWER_PLATFORM_SCOPE,
        budget: this.opts.budget,
        service: "The Power Platform admin API",
        ...(deadline !== undefined && { deadline }),
      }),
    );
  }

  /** Every environment of the tenant (unparseable entries are left out, never guessed). */
  async listEnvironments(): Promise<PlatformEnvironment[]> {
    const out: PlatformEnvironment[] = [];
    let url: string | null = `${this.opts.baseUrl}${ENVIRONMENTS_PATH}?api-version=${LIST_API_VERSION}&$expand=properties.addons`;
    for (let page = 0; url && page < 100; page++) {
      const response = await this.fetch(url, { headers: { Accept: "application/json" } });
      if (!response.ok) throw await upstreamError(response, "listing environments");
      const body = parseUpstream(bapListSchema, await response.json(), "The Power Platform admin API (environments)");
      for (const raw of body.value) {
        const env = toPlatformEnvironment(raw, this.opts.allowLoopbackDataverse);
        if (env) out.push(env);
      }
      // Follow paging only on the API's own host.
      url = body.nextLink && new URL(body.nextLink).origin === new URL(this.opts.baseUrl).origin ? body.nextLink : null;
    }
    return out;
  }

  async getEnvironment(environmentId: string): Promise<PlatformEnvironment | null> {
    const url = `${this.opts.baseUrl}${ENVIRONMENTS_PATH}/${encodeURIComponent(environmentId)}?api-version=${LIST_API_VERSION}&$expand=properties.addons`;
    const response = await this.fetch(url, { headers: { Accept: "application/json" } });
    if (response.status === 404) return null;
    if (!response.ok) throw await upstreamError(response, "reading an environment");
    // A body of another shape is Microsoft's failure (502), never "no such environment" (404).
    const raw = parseUpstream(bapEnvironmentSchema, await response.json(), "The Power Platform admin API (an environment)");
    const env = toPlatformEnvironment(raw, this.opts.allowLoopbackDataverse);
    if (!env) throw new AppError("upstream", "The Power Platform admin API answered an environment that could not be read.");
    return env;
  }

  /**
   * Adds, re-enables or refreshes one user (the platform applies its own rules). A refusal (4xx)
   * is returned, not thrown: to the sync it is drift to record, with the platform's reason.
   */
  async addUser(environmentId: string, objectId: string, deadline?: number): Promise<AddUserResult> {
    const url = `${this.opts.baseUrl}${ENVIRONMENTS_PATH}/${encodeURIComponent(environmentId)}/addUser?api-version=${ADD_USER_API_VERSION}`;
    const response = await this.fetch(
      url,
      { method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify({ ObjectId: objectId }) },
      deadline,
    );
    if (response.ok) {
      const text = (await response.text()).trim();
      if (text) parseUpstream(addUserAnswerSchema, parseJsonOrUndefined(text), "The Power Platform admin API (addUser)");
      return { ok: true };
    }
    if (response.status >= 400 && response.status < 500 && response.status !== 401) {
      const error = await readError(response);
      return { ok: false, status: response.status, ...error };
    }
    throw await upstreamError(response, "adding a user");
  }
}

async function upstreamError(response: MsResponse, what: string): Promise<AppError> {
  const error = await readError(response);
  if (response.status === 401 || response.status === 403) {
    return new AppError("upstream", `The Power Platform admin API refused ${what} (${response.status} ${error.code}): is the app registered as a management application?`, {
      extensions: { upstreamStatus: response.status, upstreamCode: error.code },
    });
  }
  return new AppError("upstream", `The Power Platform admin API answered ${response.status} ${error.code} when ${what}: ${error.message}`, {
    extensions: { upstreamStatus: response.status, upstreamCode: error.code },
  });
}

/** A body's JSON, or undefined when it is not JSON (then no schema of an object accepts it). */
function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
