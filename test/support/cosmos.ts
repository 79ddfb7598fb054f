import { randomUUID } from "node:crypto";
import type { CosmosClient, Database } from "@azure/cosmos";
import { afterAll, beforeAll } from "vitest";
import { COSMOS_EMULATOR_KEY, freePort, startCosmosServer } from "../../local/services.js";
import { ensureDatabaseAndContainers } from "../../shared/storage/bootstrap.js";
import { createCosmosClient, resetCosmosClient } from "../../shared/storage/cosmos.js";

export interface LocalCosmos {
  /** The local Cosmos server's endpoint. */
  readonly endpoint: string;
  readonly client: CosmosClient;
  /** A database of this test file's own, with every declared container. */
  readonly database: Database;
}

/**
 * Starts the local Cosmos server for this test file (before all its tests, on a free port) with a
 * database of its own, and stops it after them. Read the fields inside tests or hooks, not at
 * module level: they exist once `beforeAll` ran.
 */
export function useLocalCosmos(databasePrefix = "test"): LocalCosmos {
  let server: Awaited<ReturnType<typeof startCosmosServer>> | undefined;
  let client: CosmosClient | undefined;
  let database: Database | undefined;
  beforeAll(async () => {
    server = await startCosmosServer({ port: await freePort() });
    client = createCosmosClient({ endpoint: server.endpoint, key: COSMOS_EMULATOR_KEY });
    database = await ensureDatabaseAndContainers(client, `${databasePrefix}-${randomUUID()}`);
  });
  afterAll(async () => {
    client?.dispose();
    resetCosmosClient();
    await server?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("The local Cosmos server is not started yet (use it inside a test or hook).");
    return value;
  };
  return {
    get endpoint() {
      return started(server).endpoint;
    },
    get client() {
      return started(client);
    },
    get database() {
      return started(database);
    },
  };
}
