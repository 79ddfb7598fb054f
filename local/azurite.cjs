// Starts Azurite with its command-line arguments, after the corrections in azurite-patches.cjs
// (and, with LOCAL_COUNT_REQUESTS=1, counting the requests each of its servers serves).
"use strict";
const http = require("node:http");
const { countRequests, queueRequestKind } = require("./request-counter.cjs");

require("./azurite-patches.cjs").applyAzuritePatches();
const createServer = http.createServer;
http.createServer = function countedServer(...args) {
  return countRequests(createServer.apply(this, args), queueRequestKind);
};
require("azurite/dist/src/azurite.js");
