import { CosmosClient, type Database } from "@azure/cosmos";
import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";

/**
 * How to reach Cosmos DB. In Azure: the account endpoint and a managed identity (credential, or
 * DefaultAzureCredential when neither key nor credential is given; local auth is off there).
 * Locally: the Cosmos-compatible server's plain-HTTP endpoint and a key.
 */
export interface CosmosConnection {
  endpoint: string;
  key?: string;
  credential?: TokenCredential;
  /**
   * Defaults to false for plain-HTTP or loopback endpoints: the local server advertises an
   * https:// address for its region, which the SDK would otherwise switch to (and fail on TLS).
   */
  enableEndpointDiscovery?: boolean;
  /** Per-request network timeout (SDK default 60 s). */
  requestTimeoutMs?: number;
  /** How many times the SDK retries a 429 itself before the error reaches us (SDK default 9). */
  maxThrottleRetries?: number;
}

let configured: CosmosConnection | undefined;
let client: CosmosClient | undefined;

/** A new client (not shared). Prefer `getCosmosClient` in app code: one client per process. */
export function createCosmosClient(connection: CosmosConnection): CosmosClient {
  if (connection.key && connection.credential) {
    throw new Error("Cosmos connection: give either a key or a credential, not both.");
  }
  const auth = connection.key
    ? { key: connection.key }
    : { aadCredentials: connection.credential ?? new DefaultAzureCredential() };
  return new CosmosClient({
    endpoint: connection.endpoint,
    ...auth,
    connectionPolicy: {
      enableEndpointDiscovery: connection.enableEndpointDiscovery ?? !isLocalEndpoint(connection.endpoint),
      ...(connection.requestTimeoutMs !== undefined && { requestTimeout: connection.requestTimeoutMs }),
      ...(connection.maxThrottleRetries !== undefined && {
        retryOptions: { maxRetryAttemptCount: connection.maxThrottleRetries },
      }),
    },
  });
}

/** Records the connection once (at start-up, from config); the client is created on first use. */
export function configureCosmos(connection: CosmosConnection): void {
  if (client && configured?.endpoint !== connection.endpoint) {
    throw new Error("The Cosmos client already exists for another endpoint; call resetCosmosClient() first.");
  }
  configured = connection;
}

/** The process-wide client, created lazily from the configured (or given) connection. */
export function getCosmosClient(connection?: CosmosConnection): CosmosClient {
  if (connection) configureCosmos(connection);
  if (!client) {
    if (!configured) throw new Error("Cosmos DB is not configured: call configureCosmos() at start-up.");
    client = createCosmosClient(configured);
  }
  return client;
}

export function getDatabase(name: string): Database {
  return getCosmosClient().database(name);
}

/** For tests: disposes the shared client and forgets the configuration. */
export function resetCosmosClient(): void {
  client?.dispose();
  client = undefined;
  configured = undefined;
}

function isLocalEndpoint(endpoint: string): boolean {
  const url = new URL(endpoint);
  return url.protocol === "http:" || ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
}
