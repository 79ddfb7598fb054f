import { ensureLocalTls } from "../../local/tls.js";

/**
 * Runs once before the test workers are forked: makes the local CA (for the simulated cloud's
 * HTTPS) and hands it to every worker through NODE_EXTRA_CA_CERTS, which Node reads only at start.
 */
export default function setup(): void {
  const tls = ensureLocalTls();
  process.env.NODE_EXTRA_CA_CERTS = tls.caPath;
}
