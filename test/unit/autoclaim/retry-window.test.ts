import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../shared/config/config.js";
import { DEFAULT_RETRY_POLICY } from "../../../shared/queue/transient.js";

describe("a 60 s Graph outage is survived (A11)", () => {
  it("when every attempt fails transiently, then the default attempts and delays span more than 60 s before the event fails", () => {
    const config = parseConfig({ COSMOS_ENDPOINT: "https://x.documents.azure.com", AUTH_AUDIENCES: "api://x", EventQueueStorage__queueServiceUri: "https://x.queue.core.windows.net" });
    let waited = 0;
    for (let attempt = 1; attempt < config.QUEUE_MAX_ATTEMPTS; attempt++) waited += DEFAULT_RETRY_POLICY.delaySeconds(attempt);
    expect(waited).toBeGreaterThan(60);
  });
});
