// Starts @vercel/cosmosdb-server on 127.0.0.1:<port> (argv[2]) as the local Cosmos DB endpoint, with
// two corrections that make it behave like Azure Cosmos DB where the app's cost depends on it:
//  - keep-alive: its CLI answers every request with `Connection: close` (a new TCP connection per
//    request would bill the client for something Azure never makes it do), and idle connections
//    are kept open for two minutes;
//  - a conditional patch (`condition: "from c where ..."`) is decided on the one document, as Azure
//    does: the server ran it as a query over the whole container, so every conditional patch got
//    slower as the container grew (a claim counter patch at 7,000 claims cost a full scan).
// The condition is evaluated by the server's own query engine, with the same result as before.
//  - `_etag` (and the `etag` header) is a quoted entity-tag, `"<guid>"`, as Azure writes it: the
//    server wrote a bare GUID, so an app could pass locally with an ETag that is not one in HTTP
//    terms and fail in Azure (or the reverse);
//  - a transactional batch (`x-ms-cosmos-batch-atomic`) is all or nothing, as Azure's is: when an
//    operation fails, the ones before it are undone, it keeps its status, every other one answers
//    424 and the batch answers 207; Patch operations (with their condition) are accepted in a
//    batch, and an operation without its own partition key is in the batch's. The server applied
//    each operation as it went, refused Patch, and failed on operations without a partition key.
"use strict";
const path = require("node:path");

const serverDir = path.dirname(require.resolve("@vercel/cosmosdb-server/package.json"));
const patchOps = require(path.join(serverDir, "lib", "handler", "_patch-operations.js"));
const partitionHeader = require(path.join(serverDir, "lib", "utils", "get-partition-from-header.js"));
const { parsePartitionKey } = partitionHeader;
const compileQuery = require(require.resolve("@zeit/cosmosdb-query", { paths: [serverDir] })).default;

const patchWhole = patchOps.patchOperation;
const queries = new Map();

patchOps.patchOperation = (collection, input) => {
  const condition = typeof input.condition === "string" ? input.condition.trim() : "";
  const match = /^from\s+c\s+where\s+([\s\S]+)$/i.exec(condition);
  if (!match) return patchWhole(collection, input); // no condition, or a form left to the server
  const doc = collection.document(input.id, parsePartitionKey(input.partitionKey, input.id)).read();
  if (doc && (!input.ifMatch || input.ifMatch === doc._etag)) {
    let query = queries.get(condition);
    if (!query) {
      query = compileQuery(`SELECT * FROM c WHERE ${match[1]}`);
      queries.set(condition, query);
    }
    let holds;
    try {
      holds = query.exec([doc], { parameters: [] }).result.length > 0;
    } catch {
      return { statusCode: 400, body: { code: "BadRequest", message: "Invalid condition in patch request." } };
    }
    if (!holds) {
      return { statusCode: 412, body: { code: "PreconditionFailed", message: "Condition specified in the patch request is not satisfied." } };
    }
  }
  return patchWhole(collection, { ...input, condition: undefined }); // 404 / If-Match / the patch itself
};

const batchHandler = require(path.join(serverDir, "lib", "handler", "batch-documents.js"));
const documentOps = require(path.join(serverDir, "lib", "handler", "_document-operations.js"));
const readJson = require(path.join(serverDir, "lib", "json.js")).default;
const trueHeader = require(path.join(serverDir, "lib", "true-header.js")).default;

const batchOperations = {
  Create: (collection, input) => documentOps.createOperation(collection, input),
  Upsert: (collection, input) => documentOps.upsertOperation(collection, input),
  Read: (collection, input) => documentOps.readOperation(collection, input),
  Delete: (collection, input) => documentOps.deleteOperation(collection, input),
  Replace: (collection, input) => documentOps.replaceOperation(collection, input),
  Patch: (collection, input) => {
    const body = input.resourceBody;
    const operations = Array.isArray(body) ? body : body && Array.isArray(body.operations) ? body.operations : null;
    if (!operations) return { statusCode: 400, body: { code: "BadRequest", message: "Invalid patch request: check syntax of patch specification." } };
    const condition = Array.isArray(body) ? undefined : body.condition;
    return patchOps.patchOperation(collection, { id: input.id, partitionKey: input.partitionKey, ifMatch: input.ifMatch, operations, condition });
  },
};

/** The document an operation writes, as it is now: what undoing the operation restores. */
function before(collection, input) {
  const id = input.id ?? (input.resourceBody && input.resourceBody.id);
  if (typeof id !== "string") return undefined;
  const partitionKey = parsePartitionKey(input.partitionKey, id);
  return { id, partitionKey, previous: collection.document(id, partitionKey).read() };
}

function undo(collection, { id, partitionKey, previous }) {
  if (collection.document(id, partitionKey).read()) collection.documents.delete(id, partitionKey);
  if (previous) collection.documents._set(previous); // the stored version itself: same _etag, _rid, _ts
}

// The handler runs without awaiting between operations: no other request sees a batch half done.
batchHandler.default = async (account, req, res, { dbId, collId }) => {
  const body = await readJson(req);
  const atomic = trueHeader(req, "x-ms-cosmos-batch-atomic");
  const continueOnError = trueHeader(req, "x-ms-cosmos-batch-continue-on-error");
  const collection = account.database(dbId).collection(collId);
  if (!collection.read()) {
    res.statusCode = 404;
    return {};
  }
  if (!Array.isArray(body)) {
    res.statusCode = 400;
    return { message: "Invalid request body" };
  }
  const unsupported = body.find((input) => !input || !batchOperations[input.operationType]);
  if (unsupported !== undefined) {
    res.statusCode = 400;
    return { message: `Operation type '${unsupported ? unsupported.operationType : null}' is not supported in Batch.` };
  }
  const results = [];
  const applied = [];
  let failedAt = -1;
  // Operations without a partition key of their own are in the batch's (its header), as in Azure.
  const batchPartitionKey = partitionHeader.default(req);
  for (let i = 0; i < body.length; i += 1) {
    const input = body[i].partitionKey === undefined ? { ...body[i], partitionKey: batchPartitionKey } : body[i];
    if (failedAt >= 0 && (atomic || !continueOnError)) {
      results.push({ statusCode: 424, requestCharge: 0 });
      continue;
    }
    const state = atomic ? before(collection, input) : undefined;
    const result = batchOperations[input.operationType](collection, input);
    if (result.statusCode >= 400) {
      if (failedAt < 0) failedAt = i;
      results.push({ statusCode: result.statusCode, requestCharge: 0 });
    } else {
      if (state) applied.push(state);
      results.push({ statusCode: result.statusCode, requestCharge: 1, eTag: result.body ? result.body._etag : undefined, resourceBody: result.body });
    }
  }
  if (atomic && failedAt >= 0) {
    for (const state of applied.reverse()) undo(collection, state);
    for (let i = 0; i < failedAt; i += 1) results[i] = { statusCode: 424, requestCharge: 0 };
    res.statusCode = 207;
  }
  return results;
};

const Items = require(path.join(serverDir, "lib", "account", "items.js")).default;
const setItem = Items.prototype._set;
Items.prototype._set = function setWithQuotedEtag(data) {
  if (typeof data._etag === "string" && !data._etag.startsWith('"')) data._etag = `"${data._etag}"`;
  return setItem.call(this, data);
};

const { countRequests, cosmosRequestKind } = require("./request-counter.cjs");
const server = countRequests(require(path.join(serverDir, "lib", "index.js")).createHttpServer({ keepAlive: true }), cosmosRequestKind);
// Idle connections stay open longer than clients keep them (Node closes them after 5 s by default,
// and a client reusing one as it closes gets ECONNRESET).
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
server.listen(Number(process.argv[2]), "127.0.0.1", () => console.log("cosmos ready"));
