import type { Container } from "@azure/cosmos";
import { AppError } from "../errors/app-error.js";
import { createItem, deleteItem, readItem, replaceIfMatch } from "./repository.js";

/**
 * A lease held in one Cosmos item: at most one holder across every instance while `until` has not
 * passed. Taken by creating the item (or replacing one whose `until` has passed: its holder crashed);
 * given back by deleting it. Returns the release, or null while another holder's lease runs.
 * `wrap` lets a caller meter the requests (the sync's store counts its own).
 */
export async function takeLease(
  container: Container,
  item: { id: string; until: string } & Record<string, unknown>,
  partitionKey: string,
  wrap: <T>(request: () => Promise<T>) => Promise<T> = (request) => request(),
): Promise<(() => Promise<void>) | null> {
  const release = (etag: string) => () => wrap(() => deleteItem(container, item.id, partitionKey, { ifMatch: etag })).then(() => undefined, () => undefined);
  try {
    return release((await wrap(() => createItem(container, item)))._etag);
  } catch (err) {
    if (!(err instanceof AppError && err.kind === "conflict")) throw err;
  }
  const held = await wrap(() => readItem<{ until: string }>(container, item.id, partitionKey));
  if (held && Date.parse(held.until) > Date.now()) return null;
  try {
    const taken = held ? await wrap(() => replaceIfMatch(container, item, held._etag)) : await wrap(() => createItem(container, item));
    return release(taken._etag);
  } catch (err) {
    if (err instanceof AppError && (err.kind === "conflict" || err.kind === "preconditionFailed" || err.kind === "notFound")) return null;
    throw err;
  }
}
