// LOCAL_COUNT_REQUESTS=1 (benchmarks): a local service counts the requests it serves by kind and
// answers GET /_local/request-counts with { total, byKind }. Counting in the service itself costs a
// map increment; a counting proxy in front of it doubled every hop on a two-core machine.
"use strict";

const PATH = "/_local/request-counts";

function countRequests(server, kindOf) {
  if (process.env.LOCAL_COUNT_REQUESTS !== "1") return server;
  const byKind = {};
  let total = 0;
  const emit = server.emit;
  server.emit = function countingEmit(event, req, res) {
    if (event === "request") {
      if (req.method === "GET" && req.url === PATH) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ total, byKind }));
        return true;
      }
      total++;
      const kind = `${req.method} ${kindOf(req.url || "/", req.headers)}`;
      byKind[kind] = (byKind[kind] || 0) + 1;
    }
    return emit.apply(this, arguments);
  };
  return server;
}

/** A Storage queue request: the queue and whether it is about messages (receive, send, delete) or the queue. */
function queueRequestKind(url) {
  const [path = "/", query = ""] = url.split("?");
  const parts = path.split("/").filter(Boolean); // account, queue, messages, id
  const what = parts[2] === "messages" ? (parts[3] ? "message" : "messages") : query.includes("comp=metadata") ? "metadata" : "queue";
  return `${parts[1] || "(service)"} ${what}`;
}

/** A Cosmos DB request: create, query or item operation, and the container. */
function cosmosRequestKind(url, headers) {
  const path = url.split("?")[0] || "/";
  const parts = path.split("/").filter(Boolean);
  if (parts.length === 0) return "account";
  const container = parts[3] || "";
  if (parts[4] === "docs" && parts.length === 5) {
    if (headers["x-ms-documentdb-isquery"]) return `query ${container}`;
    if (headers["x-ms-cosmos-is-batch-request"]) return `${String(headers["x-ms-cosmos-batch-atomic"]).toLowerCase() === "true" ? "batch" : "bulk"} ${container}`;
    return `create ${container}`;
  }
  if (parts[4] === "docs") return `item ${container}`;
  return parts.length <= 2 ? "database" : parts.length <= 4 ? "container" : parts[4] || "other";
}

module.exports = { countRequests, queueRequestKind, cosmosRequestKind, REQUEST_COUNTS_PATH: PATH };
