import { RestError } from "@azure/storage-queue";
import { describe, expect, it } from "vitest";
import { mapStorageQueueError } from "../../../shared/queue/storage-queue-sender.js";

const rest = (statusCode: number) => new RestError(`status ${statusCode}`, { statusCode });

describe("Storage queue errors", () => {
  it.each([500, 502, 503, 504, 408, 429])("when the queue answers %s, then the send is unavailable (transient: retry later, 503 to an HTTP caller)", (status) => {
    expect(mapStorageQueueError(rest(status), "events")).toMatchObject({ kind: "unavailable", transient: true });
  });

  it("when the endpoint cannot be reached, then unavailable", () => {
    expect(mapStorageQueueError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }), "events")).toMatchObject({ kind: "unavailable" });
  });

  it.each([400, 403, 404])("when the queue answers %s (a bug or a misconfiguration), then the error is returned unchanged", (status) => {
    const err = rest(status);
    expect(mapStorageQueueError(err, "events")).toBe(err);
  });
});
