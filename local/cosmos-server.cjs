// Starts @vercel/cosmosdb-server on 127.0.0.1:<port> (argv[2]) as the local Cosmos DB endpoint, with
// two corrections that make it behave like Azure Cosmos DB where the app's cost depends on it:
//  - keep-alive: its CLI answers every request with `Connection: close` (a new TCP connection per
//    request would bill the client for something Azure never makes it do), and idle connections
//    are kept open for two minutes;
//  - a conditional patch (`condition: "from c where ..."`) is decided on the one document, as Azure
//    does: the server ran it as a query over the whole container, so every conditional patch got
//    slower as the container grew (a claim counter patch at 7,000 claims cost a full scan).
// The condition is evaluated by the server's own query engine, with the same result as before.
"use strict";
const path = require("node:path");

const serverDir = path.dirname(require.resolve("@vercel/cosmosdb-server/package.json"));
const patchOps = require(path.join(serverDir, "lib", "handler", "_patch-operations.js"));
const { parsePartitionKey } = require(path.join(serverDir, "lib", "utils", "get-partition-from-header.js"));
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

const { countRequests, cosmosRequestKind } = require("./request-counter.cjs");
const server = countRequests(require(path.join(serverDir, "lib", "index.js")).createHttpServer({ keepAlive: true }), cosmosRequestKind);
// Idle connections stay open longer than clients keep them (Node closes them after 5 s by default,
// and a client reusing one as it closes gets ECONNRESET).
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
server.listen(Number(process.argv[2]), "127.0.0.1", () => console.log("cosmos ready"));
