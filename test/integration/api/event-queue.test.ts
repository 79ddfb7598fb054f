import { randomUUID } from "node:crypto";
import { QueueClient } from "@azure/storage-queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVENTS_QUEUE } from "../../../shared/events/queues.js";
import { startTestStack, type TestStack } from "../../support/stack.js";

let stack: TestStack;
let queue: QueueClient;

beforeAll(async () => {
  stack = await startTestStack();
  queue = new QueueClient(stack.storageConnectionString, EVENTS_QUEUE);
  await queue.createIfNotExists();
});
afterAll(async () => {
  await stack?.stop();
});

async function waitForFailure(predicate: string, value: string, deadlineMs = 30_000): Promise<Record<string, unknown>> {
  const container = stack.database.container("failures");
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    // The host creates its containers when its runtime first starts, which the first message may be
    // what triggers: until then the container is not there (404) - not a failure of the test.
    const { resources } = await container.items
      .query<Record<string, unknown>>({ query: `SELECT * FROM c WHERE ${predicate}`, parameters: [{ name: "@v", value }] })
      .fetchAll()
      .catch((err: unknown) => {
        if ((err as { code?: unknown }).code === 404) return { resources: [] as Record<string, unknown>[] };
        throw err;
      });
    if (resources[0]) return resources[0];
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no failure record matching ${predicate} = ${value} within ${deadlineMs} ms`);
}

const send = (text: string) => queue.sendMessage(Buffer.from(text).toString("base64"));

describe("event queue processing through the local host", () => {
  it("when a message is not JSON, then it is kept as a failure record with its raw content and reason", async () => {
    const marker = `garbage-${randomUUID()}`;
    await send(`{not json ${marker}`);
    const failure = await waitForFailure("CONTAINS(c.raw, @v)", marker);
    expect(failure.reason).toEqual(expect.stringMatching(/json|envelope/i));
  });

  it("when an envelope names a kind nobody handles, then it is kept with that reason and not retried", async () => {
    const id = randomUUID();
    await send(JSON.stringify({ id, kind: "no-such-kind", tenantId: randomUUID(), attempt: 1, firstEnqueuedAt: new Date().toISOString(), body: {} }));
    const failure = await waitForFailure("c.envelope.id = @v", id);
    expect(failure.reason).toEqual(expect.stringContaining("unknown-message-kind"));
    expect(failure.attempts).toBe(1);
  });
});
