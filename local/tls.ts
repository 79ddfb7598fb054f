import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { X509Certificate } from "node:crypto";
import { localStateDir } from "./paths.js";

export interface LocalTls {
  /** PEM of the local certificate authority; point NODE_EXTRA_CA_CERTS at `caPath`. */
  caPath: string;
  cert: string;
  key: string;
}

const REQUIRED_SANS = ["IP Address:127.0.0.1", "DNS:localhost"];

/**
 * Makes (once) a local CA and a server certificate for 127.0.0.1/localhost with openssl,
 * kept under .local/tls. Processes that must trust the simulated cloud get
 * NODE_EXTRA_CA_CERTS=<caPath> in their environment when they start.
 */
export function ensureLocalTls(dir = path.join(localStateDir, "tls")): LocalTls {
  const caPath = path.join(dir, "ca.pem");
  const caKey = path.join(dir, "ca-key.pem");
  const certPath = path.join(dir, "server.pem");
  const keyPath = path.join(dir, "server-key.pem");
  if (!isUsable(certPath, caPath)) {
    mkdirSync(dir, { recursive: true });
    const run = (args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
    run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "825", "-subj", "/CN=License Control Plane local CA",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
      "-keyout", caKey, "-out", caPath]);
    const csr = path.join(dir, "server.csr");
    run(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", keyPath, "-out", csr]);
    const ext = path.join(dir, "server.ext");
    execFileSync("sh", ["-c", `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\nbasicConstraints=CA:FALSE\\n' > "${ext}"`]);
    run(["x509", "-req", "-in", csr, "-CA", caPath, "-CAkey", caKey, "-CAcreateserial", "-days", "825",
      "-extfile", ext, "-out", certPath]);
  }
  return { caPath, cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8") };
}

function isUsable(certPath: string, caPath: string): boolean {
  if (!existsSync(certPath) || !existsSync(caPath)) return false;
  try {
    const cert = new X509Certificate(readFileSync(certPath));
    const ca = new X509Certificate(readFileSync(caPath));
    const sans = cert.subjectAltName ?? "";
    const validForADay = Date.parse(cert.validTo) > Date.now() + 86_400_000;
    return validForADay && cert.checkIssued(ca) && REQUIRED_SANS.every((s) => sans.includes(s));
  } catch {
    return false;
  }
}
