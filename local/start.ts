/**
 * `npm start`: Azurite, the Cosmos DB-compatible server, the simulated Microsoft cloud and the local
 * Functions host, each in its own process; onboards the demo tenant; Ctrl-C stops everything.
 * `npm run services` (--services-only): the same without the host, for `func start`.
 */
import path from "node:path";
import { DIRECTORY_ROLES } from "../shared/auth/roles.js";
import { ensureDevSigningKey, issueDevToken } from "./dev-identity.js";
import { portOf, readLocalSettings, storageEndpoint } from "./local-settings.js";
import { localStateDir, repoRoot } from "./paths.js";
import { PortInUseError } from "./services.js";
import { DEMO_TENANT_ID, DEMO_TENANT_NAME } from "./sim-cloud/demo-tenant.js";
import { DEFAULT_PORTS, startLocalStack, type LocalStack, type StackPorts } from "./stack.js";

const servicesOnly = process.argv.includes("--services-only");
/** Compiled (npm start) or TypeScript through tsx (tests of this script). */
const mode = import.meta.url.includes("/dist/") ? "dist" : "ts";
const settings = readLocalSettings(repoRoot, process.env.LOCAL_SETTINGS_FILE);
const v = settings.Values;
const storage = v.AzureWebJobsStorage ?? "";
const ports: StackPorts = {
  blob: portOf(storageEndpoint(storage, "Blob"), DEFAULT_PORTS.blob),
  queue: portOf(storageEndpoint(storage, "Queue"), DEFAULT_PORTS.queue),
  table: portOf(storageEndpoint(storage, "Table"), DEFAULT_PORTS.table),
  cosmos: portOf(v.COSMOS_ENDPOINT ?? "", DEFAULT_PORTS.cosmos),
  simCloud: portOf(v.ENTRA_AUTHORITY_HOST ?? "", DEFAULT_PORTS.simCloud),
  host: settings.Host?.LocalHttpPort ?? DEFAULT_PORTS.host,
};

let stack: LocalStack | undefined;
let stopping = false;
async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  console.log("\nStopping local services...");
  await stack?.stop();
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

try {
  const { NODE_EXTRA_CA_CERTS: _ca, ...appSettings } = v;
  stack = await startLocalStack({
    ports,
    mode,
    azuriteLocation: process.env.AZURITE_LOCATION ?? path.join(localStateDir, "azurite"),
    appSettings,
    withHost: !servicesOnly,
    echo: true,
  });
} catch (err) {
  console.error(err instanceof PortInUseError ? `\n${err.message}` : err);
  await shutdown(1);
}

if (stack && !servicesOnly) {
  const key = await ensureDevSigningKey();
  const audience = stack.appSettings.AUTH_AUDIENCES?.split(",")[0] ?? "";
  const authorityHost = stack.appSettings.ENTRA_AUTHORITY_HOST ?? "";
  const token = await issueDevToken(key, { authorityHost, audience, tenantId: DEMO_TENANT_ID, wids: [DIRECTORY_ROLES["Global Administrator"]], idtyp: "user" });
  const res = await fetch(`${stack.hostUrl}/api/tenants/${DEMO_TENANT_ID}`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ displayName: DEMO_TENANT_NAME }),
  });
  if (!res.ok) console.error(`Onboarding the demo tenant failed: ${res.status} ${await res.text()}`);
}

if (stack) {
  console.log(`
Local stack is running (Ctrl-C stops everything):
  Functions host        ${servicesOnly ? "(not started: run func start)" : `${stack.hostUrl}/api   (health: ${stack.hostUrl}/api/health, OpenAPI: ${stack.hostUrl}/api/openapi.json)`}
  Simulated MS cloud    ${stack.simCloudUrl}   (Graph /graph/v1.0, Dataverse /dataverse/{env}, Power Platform /bap, Entra /login)
  Cosmos DB-compatible  ${stack.cosmosEndpoint}
  Azurite               blob :${ports.blob}  queue :${ports.queue}  table :${ports.table}

  Demo tenant           ${DEMO_TENANT_ID}
  Get a token           npm run token -- --tenant ${DEMO_TENANT_ID} --role "Global Administrator"
  Try it                curl -H "Authorization: Bearer $(npm run -s token -- --role 'Global Administrator')" ${stack.hostUrl}/api/tenants/${DEMO_TENANT_ID}
`);
}
