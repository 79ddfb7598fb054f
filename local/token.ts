/**
 * Prints a bearer token that the local host accepts (signed with the local dev key, which the
 * simulated cloud publishes as its JWKS). Usage:
 *   npm run token -- --tenant <tenantId> --role "Global Administrator" [--role ...]
 *   npm run token -- --app-role SignInEvents.Send
 * Tenant defaults to the demo tenant. Works only against the local stack (APP_ENV=local).
 */
import { parseArgs } from "node:util";
import { DIRECTORY_ROLES, DIRECTORY_ROLE_NAMES, type DirectoryRole } from "../shared/auth/roles.js";
import { ensureDevSigningKey, issueDevToken } from "./dev-identity.js";
import { readLocalSettings } from "./local-settings.js";
import { DEMO_TENANT_ID } from "./sim-cloud/demo-tenant.js";

const { values } = parseArgs({
  options: {
    tenant: { type: "string", default: DEMO_TENANT_ID },
    role: { type: "string", multiple: true, default: [] },
    "app-role": { type: "string", multiple: true, default: [] },
    oid: { type: "string" },
    "expires-in": { type: "string", default: "3600" },
    help: { type: "boolean", default: false },
  },
});

if (values.help || (values.role.length === 0 && values["app-role"].length === 0)) {
  console.error(`Usage: npm run token -- [--tenant <id>] --role "<directory role>" | --app-role <app role>
Directory roles: ${DIRECTORY_ROLE_NAMES.join(", ")}
App roles: SignInEvents.Send`);
  process.exit(values.help ? 0 : 2);
}

const unknown = values.role.filter((r) => !(r in DIRECTORY_ROLES));
if (unknown.length) {
  console.error(`Unknown role(s): ${unknown.join(", ")}. Known: ${DIRECTORY_ROLE_NAMES.join(", ")}`);
  process.exit(2);
}

const settings = readLocalSettings().Values;
const authorityHost = settings.ENTRA_AUTHORITY_HOST;
const audience = settings.AUTH_AUDIENCES?.split(",")[0]?.trim();
if (!authorityHost || !audience) {
  console.error("local.settings.json lacks ENTRA_AUTHORITY_HOST or AUTH_AUDIENCES");
  process.exit(2);
}

const isApp = values["app-role"].length > 0 && values.role.length === 0;
const token = await issueDevToken(await ensureDevSigningKey(), {
  authorityHost,
  tenantId: values.tenant ?? DEMO_TENANT_ID,
  audience,
  wids: values.role.map((r) => DIRECTORY_ROLES[r as DirectoryRole]),
  roles: values["app-role"],
  oid: values.oid,
  idtyp: isApp ? "app" : "user",
  expiresInSeconds: Number(values["expires-in"]),
});
process.stdout.write(`${token}\n`);
