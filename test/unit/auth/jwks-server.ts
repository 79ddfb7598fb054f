import { createServer } from "node:http";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ensureDevSigningKey, jwksOf, type DevSigningKey } from "../../../local/dev-identity.js";

/** A fresh signing key and a server on 127.0.0.1 publishing its JWKS (for token validation tests). */
export async function startJwksServer(): Promise<{ key: DevSigningKey; jwksUri: string; close(): Promise<void> }> {
  const key = await ensureDevSigningKey(mkdtempSync(path.join(tmpdir(), "devkey-")));
  const server = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(jwksOf(key))));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    key,
    jwksUri: `http://127.0.0.1:${(server.address() as { port: number }).port}/keys`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
