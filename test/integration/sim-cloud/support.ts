import { ClientSecretCredential } from "@azure/identity";
import { Client } from "@microsoft/microsoft-graph-client";
import { ensureDevSigningKey, issueDevToken, type DevSigningKey } from "../../../local/dev-identity.js";
import { DEMO_APP, DEMO_TENANT_ID } from "../../../local/sim-cloud/demo-tenant.js";
import { startSimCloud, type SimCloud, type SimCloudOptions } from "../../../local/sim-cloud/server.js";
import { ensureLocalTls } from "../../../local/tls.js";

export const GRAPH_AUDIENCE = "https://graph.microsoft.com";
export const BAP_AUDIENCE = "https://service.powerapps.com/";

export interface TestSim {
  sim: SimCloud;
  key: DevSigningKey;
  /** An application token of the demo app (the product's identity) for an audience. */
  token(audience?: string): Promise<string>;
  graph: Client;
  /** fetch with the demo app's bearer token for the right audience of the URL. */
  call(url: string, init?: RequestInit): Promise<Response>;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }>;
  /** The credential the production adapters use against the simulated cloud (it accepts any secret). */
  credential: ClientSecretCredential;
}

/** Starts the simulated cloud in-process on a free port with the local TLS and signing key. */
export async function startTestSim(opts: Partial<Omit<SimCloudOptions, "tls" | "signingKey">> = {}): Promise<TestSim> {
  const tls = ensureLocalTls();
  const key = await ensureDevSigningKey();
  const sim = await startSimCloud({ port: 0, tls, signingKey: key, ...opts });
  const tokens = new Map<string, Promise<string>>();
  const token = (audience = GRAPH_AUDIENCE) => {
    let t = tokens.get(audience);
    if (!t) {
      t = issueDevToken(key, {
        authorityHost: sim.authorityHost,
        tenantId: DEMO_TENANT_ID,
        audience,
        appId: DEMO_APP.appId,
        oid: DEMO_APP.servicePrincipalId,
        idtyp: "app",
        roles: DEMO_APP.roles,
      });
      tokens.set(audience, t);
    }
    return t;
  };
  const graph = Client.initWithMiddleware({
    baseUrl: sim.graphBaseUrl,
    defaultVersion: "v1.0",
    customHosts: new Set(["127.0.0.1"]),
    authProvider: { getAccessToken: () => token(GRAPH_AUDIENCE) },
  });
  const audienceFor = (url: string) => {
    const m = /\/dataverse\/([^/]+)/.exec(url);
    if (m?.[1]) return sim.dataverseUrl(m[1]);
    if (url.includes("/bap/")) return BAP_AUDIENCE;
    return GRAPH_AUDIENCE;
  };
  const call = async (url: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (!headers.has("authorization")) headers.set("authorization", `Bearer ${await token(audienceFor(url))}`);
    return fetch(url, { ...init, headers });
  };
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${sim.url}/_admin${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as unknown) : null };
  };
  const credential = new ClientSecretCredential(DEMO_TENANT_ID, DEMO_APP.appId, "local-simulated-cloud-accepts-any-secret", {
    authorityHost: sim.authorityHost,
    disableInstanceDiscovery: true,
  });
  return { sim, key, token, graph, call, admin, credential };
}

/** Follows @odata.nextLink until the end (or a deltaLink) with plain fetch; returns every page. */
export async function allPages(t: TestSim, firstUrl: string): Promise<Array<Record<string, unknown>>> {
  const pages: Array<Record<string, unknown>> = [];
  let url: string | undefined = firstUrl;
  while (url) {
    const res = await t.call(url);
    if (res.status !== 200) throw new Error(`GET ${url} -> ${res.status} ${await res.text()}`);
    const page = (await res.json()) as Record<string, unknown>;
    pages.push(page);
    url = typeof page["@odata.nextLink"] === "string" ? page["@odata.nextLink"] : undefined;
  }
  return pages;
}
