import type { Container, OperationInput, OperationResponse, PatchOperation } from "@azure/cosmos";
import { Batcher, ItemFailure } from "../concurrency/batcher.js";
import { cosmosUnavailable, createItem, mapCosmosError, patchIf, wholeRequestFailure, type PatchConditions } from "./repository.js";

/**
 * Group commit of point writes (creates and patches) to one container: the writes a process issues
 * within `lingerMs` of each other (or while earlier groups are in flight) travel in one Cosmos bulk
 * request (up to 100 operations, any partitions; each operation applied or refused on its own),
 * instead of one request each. The claim processor finishes the claims of one Graph `$batch`
 * together, and each finish writes two patches (the claim, the event); ingestion stores the
 * sign-in events that arrive within a few milliseconds of each other.
 *
 * Each caller gets what `createItem` / `patchIf` would give it, less the item: success, or the
 * error its status maps to (409 `conflict`, 404 `notFound`, 412 `preconditionFailed`, ...). A write
 * alone in its group is sent as a plain point write, and so is one throttled (429) inside a bulk
 * request, to get the SDK's throttling retries. A bulk request that fails as a whole fails every
 * write in it.
 *
 * The SDK's `items.bulk` is used, not `executeBulkOperations`: the newer API waits up to a second
 * to fill partial batches (it is built for ingestion, not for latency), and on the local
 * Cosmos-compatible server it stopped answering after some calls.
 */
export interface PatchRequest {
  id: string;
  partitionKey: string;
  operations: PatchOperation[];
  conditions?: PatchConditions;
}

type WriteRequest = ({ kind: "patch" } & PatchRequest) | { kind: "create"; partitionKey: string; item: { id: string } };

export interface GroupedWriteOptions {
  lingerMs: number;
  /** Bulk requests of one container in flight at a time; writes arriving meanwhile form the next group. */
  maxInFlight: number;
}

/** Cosmos takes at most 100 operations per bulk request (per partition key range). */
const MAX_PER_REQUEST = 100;

/** A write applied, or why not (its caller's promise is rejected with it). */
type Result = void | ItemFailure;

export class GroupedWrites {
  private readonly batcher: Batcher<WriteRequest, void>;

  constructor(
    private readonly container: Container,
    options: GroupedWriteOptions = { lingerMs: 0, maxInFlight: 4 },
  ) {
    this.batcher = new Batcher((_key, items) => this.send(items), { maxItems: MAX_PER_REQUEST, lingerMs: options.lingerMs, maxInFlight: options.maxInFlight });
  }

  /** Applies the patch (with its conditions); the item as patched is not returned (Azure's bulk answers may leave it out). */
  patch(request: PatchRequest): Promise<void> {
    return this.submit({ kind: "patch", ...request });
  }

  /** Creates the item (its partition key value given alongside); an existing id -> AppError `conflict`. */
  create<T extends { id: string }>(partitionKey: string, item: T): Promise<void> {
    return this.submit({ kind: "create", partitionKey, item });
  }

  private submit(request: WriteRequest): Promise<void> {
    return this.batcher.submit("", request);
  }

  private async send(items: WriteRequest[]): Promise<Result[]> {
    if (items.length === 1) return [await this.writeAlone(items[0] as WriteRequest)];
    let responses: OperationResponse[];
    try {
      responses = await this.container.items.bulk(items.map(toOperation), { continueOnError: true });
    } catch (err) {
      throw wholeRequestFailure(err, "bulk request");
    }
    // A write throttled inside the bulk request (its partition was busy) goes again on its own,
    // with the SDK's throttling retries, which a bulk operation does not get.
    return Promise.all(items.map((item, i) => (responses[i]?.statusCode === 429 ? this.writeAlone(item) : Promise.resolve(resultOf(item, responses[i])))));
  }

  private writeAlone(request: WriteRequest): Promise<Result> {
    const write =
      request.kind === "create"
        ? createItem(this.container, request.item)
        : patchIf(this.container, request.id, request.partitionKey, request.operations, request.conditions);
    return write.then(
      (): Result => undefined,
      (error: unknown): Result => new ItemFailure(error),
    );
  }
}

function toOperation(request: WriteRequest): OperationInput {
  if (request.kind === "create") {
    return { operationType: "Create", partitionKey: request.partitionKey, resourceBody: request.item };
  }
  const { condition, ifMatch } = request.conditions ?? {};
  return {
    operationType: "Patch",
    id: request.id,
    partitionKey: request.partitionKey,
    resourceBody: condition ? { operations: request.operations, condition } : request.operations,
    ...(ifMatch && { ifMatch }),
  };
}

function resultOf(request: WriteRequest, response: OperationResponse | undefined): Result {
  const id = request.kind === "create" ? request.item.id : request.id;
  if (!response) {
    return new ItemFailure(cosmosUnavailable(`A Cosmos DB bulk request answered without a result for ${id}.`));
  }
  if (response.statusCode < 400) return undefined;
  // The per-operation status, mapped as a failed point write's would be.
  return new ItemFailure(mapCosmosError(Object.assign(new Error(`Cosmos DB refused the ${request.kind} of ${id} (${response.statusCode}).`), { code: response.statusCode })));
}
