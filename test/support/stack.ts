import { randomUUID } from "node:crypto";
import { CosmosClient, type Database } from "@azure/cosmos";
import { ensureDevSigningKey, issueDevToken, type DevTokenRequest } from "../../local/dev-identity.js";
import { COSMOS_EMULATOR_KEY, freePort } from "../../local/services.js";
import { startLocalStack, type LocalStack, type StackOptions, type StackPorts } from "../../local/stack.js";
import { DIRECTORY_ROLES, type DirectoryRole } from "../../shared/auth/roles.js";
import { assertConforms } from "./conformance.js";

export async function freeStackPorts(): Promise<StackPorts> {
  const ports: number[] = [];
  while (ports.length < 6) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const [blob, queue, table, cosmos, simCloud, host] = ports as [number, number, number, number, number, number];
  return { blob, queue, table, cosmos, simCloud, host };
}

export interface TestStack extends LocalStack {
  /** A token the stack's app accepts (defaults: this tenant, a user token). */
  token(req: { tenantId: string; roles?: DirectoryRole[]; appRoles?: string[] } & Partial<DevTokenRequest>): Promise<string>;
  /** fetch against the host, with an optional bearer token; fails when the answer is not as the OpenAPI document describes it. */
  call(path: string, init?: RequestInit & { token?: string }): Promise<Response>;
  /** Onboards a fresh random tenant and returns its id. */
  onboardTenant(displayName?: string): Promise<string>;
  /** The app's Cosmos database, read directly (to assert on stored state). */
  database: Database;
}

/** The whole local stack (services + host running functions/index.ts through tsx) on free ports. */
export async function startTestStack(options: Partial<StackOptions> = {}): Promise<TestStack> {
  const stack = await startLocalStack({ ports: await freeStackPorts(), mode: "ts", ...options });
  const key = await ensureDevSigningKey();
  const authorityHost = stack.appSettings.ENTRA_AUTHORITY_HOST!;
  const audience = stack.appSettings.AUTH_AUDIENCES!.split(",")[0]!;
  const token: TestStack["token"] = ({ tenantId, roles = [], appRoles = [], ...rest }) =>
    issueDevToken(key, {
      authorityHost,
      audience,
      tenantId,
      wids: roles.map((r) => DIRECTORY_ROLES[r]),
      roles: appRoles,
      idtyp: appRoles.length && !roles.length ? "app" : "user",
      ...rest,
    });
  const call: TestStack["call"] = async (path, init = {}) => {
    const { token: bearer, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (bearer) headers.set("Authorization", `Bearer ${bearer}`);
    if (rest.body && !headers.has("Content-Type")) headers.set("Content-Type", "application/json");
    const url = `${stack.hostUrl}${path}`;
    const response = await fetch(url, { ...rest, headers });
    await assertConforms(rest.method ?? "GET", url, response);
    return response;
  };
  const onboardTenant: TestStack["onboardTenant"] = async (displayName = "Test tenant") => {
    const tenantId = randomUUID();
    const res = await call(`/api/tenants/${tenantId}`, {
      method: "PUT",
      token: await token({ tenantId, roles: ["Global Administrator"] }),
      body: JSON.stringify({ displayName }),
    });
    if (res.status !== 201) throw new Error(`onboarding failed: ${res.status} ${await res.text()}`);
    return tenantId;
  };
  const cosmos = new CosmosClient({ endpoint: stack.cosmosEndpoint, key: COSMOS_EMULATOR_KEY, connectionPolicy: { enableEndpointDiscovery: false } });
  const stop = stack.stop;
  return Object.assign(stack, {
    token,
    call,
    onboardTenant,
    database: cosmos.database(stack.appSettings.COSMOS_DATABASE ?? "licensing"),
    stop: async () => {
      cosmos.dispose();
      await stop();
    },
  });
}
