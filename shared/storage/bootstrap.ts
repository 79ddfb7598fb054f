import type { CosmosClient, Database } from "@azure/cosmos";
import { CONTAINERS, type ContainerDeclaration } from "./containers.js";

/**
 * Creates the database and every declared container if missing. For local runs and tests only:
 * in Azure the database and containers are declared in infra (Bicep) and the app's identity has
 * no control-plane rights, so production code paths never call this.
 *
 * An existing container with another partition key is an error (Cosmos cannot change it in place).
 */
export async function ensureDatabaseAndContainers(
  client: CosmosClient,
  databaseName: string,
  declarations: readonly ContainerDeclaration[] = CONTAINERS,
): Promise<Database> {
  const { database } = await client.databases.createIfNotExists({ id: databaseName });
  for (const declaration of declarations) {
    const { resource } = await database.containers.createIfNotExists({
      id: declaration.name,
      partitionKey: { paths: [declaration.partitionKeyPath] },
      ...(declaration.defaultTtlSeconds !== undefined && { defaultTtl: declaration.defaultTtlSeconds }),
    });
    const paths = resource?.partitionKey?.paths ?? [];
    if (paths.length !== 1 || paths[0] !== declaration.partitionKeyPath) {
      throw new Error(
        `Container "${declaration.name}" exists with partition key ${JSON.stringify(paths)}, ` +
          `declared ${declaration.partitionKeyPath}.`,
      );
    }
  }
  return database;
}
