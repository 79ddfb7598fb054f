// Two corrections to Azurite's LokiJS stores, so that the local queue's cost per request does not
// grow with what it has held (Azure Storage's does not), without changing any answer:
//  - every queue request (receive, delete, update, peek) first clears expired messages; with none
//    expired, LokiJS's batch remove of an empty list still hashed every message and marked all four
//    indexes of the messages collection stale, so the next lookup rebuilt (sorted) them: ~9 ms per
//    request with 2,000 messages queued. Nothing expired -> nothing removed.
//  - a receive marks its messages with one batch update, which LokiJS follows with a rebuild of all
//    four indexes; the messages are now updated one by one, each keeping the indexes current.
//  - the extent GC (every 60 s) removed each unreferenced extent with `findAndRemove`, which marks
//    the id index stale and rebuilds it for the next one: O(n^2 log n), a 7-14 s freeze of the whole
//    emulator after 3,000 messages. Each extent is now removed on its own, keeping the index current.
"use strict";
const path = require("node:path");

const azuriteDir = path.dirname(require.resolve("azurite/package.json"));
const LokiQueueMetadataStore = require(path.join(azuriteDir, "dist/src/queue/persistence/LokiQueueMetadataStore.js")).default;
const LokiExtentMetadata = require(path.join(azuriteDir, "dist/src/common/persistence/LokiExtentMetadataStore.js")).default;

function applyAzuritePatches() {
  if (LokiQueueMetadataStore.prototype.clearExpiredMessages.patched) return;

  const clearExpiredMessages = async function clearExpiredMessages(account, queue) {
    const coll = this.db.getCollection(this.MESSAGES_COLLECTION);
    const expired = coll.find({ accountName: account, queueName: queue, expirationTime: { $lte: Date.now() } });
    for (const doc of expired) coll.remove(doc);
  };
  clearExpiredMessages.patched = true;
  LokiQueueMetadataStore.prototype.clearExpiredMessages = clearExpiredMessages;

  const init = LokiQueueMetadataStore.prototype.init;
  LokiQueueMetadataStore.prototype.init = async function patchedInit() {
    await init.call(this);
    const coll = this.db.getCollection(this.MESSAGES_COLLECTION);
    const update = coll.update;
    coll.update = function updateOneByOne(doc) {
      if (!Array.isArray(doc)) return update.call(this, doc);
      for (const one of doc) update.call(this, one);
    };
  };

  LokiExtentMetadata.prototype.deleteExtent = async function deleteExtent(extentId) {
    const coll = this.db.getCollection(this.EXTENTS_COLLECTION);
    const doc = coll.findOne({ id: extentId });
    if (doc) coll.remove(doc);
  };
}

module.exports = { applyAzuritePatches, LokiQueueMetadataStore, LokiExtentMetadata };
