import { randomUUID } from "node:crypto";
import type { Container, CosmosClient } from "@azure/cosmos";
import { QueueClient } from "@azure/storage-queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  COSMOS_EMULATOR_KEY,
  azuriteConnectionString,
  freePort,
  startAzurite,
  startCosmosServer,
} from "../../../local/services.js";
import { businessRule, unavailable } from "../../../shared/errors/app-error.js";
import { newEnvelope } from "../../../shared/queue/envelope.js";
import { CosmosFailureStore } from "../../../shared/queue/failure-store.js";
import { StorageQueueSender, decodeQueueMessage } from "../../../shared/queue/storage-queue-sender.js";
import { processMessage } from "../../../shared/queue/transient.js";
import { ensureDatabaseAndContainers } from "../../../shared/storage/bootstrap.js";
import { createCosmosClient } from "../../../shared/storage/cosmos.js";
import { silentLogger } from "../../unit/queue/fakes.js";

let azurite: Awaited<ReturnType<typeof startAzurite>>;
let cosmos: Awaited<ReturnType<typeof startCosmosServer>>;
let cosmosClient: CosmosClient;
let failuresContainer: Container;

beforeAll(async () => {
  const [blob, queue, table, cosmosPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  [azurite, cosmos] = await Promise.all([startAzurite({ ports: { blob, queue, table } }), startCosmosServer({ port: cosmosPort })]);
  cosmosClient = createCosmosClient({ endpoint: cosmos.endpoint, key: COSMOS_EMULATOR_KEY });
  const database = await ensureDatabaseAndContainers(cosmosClient, `test-${randomUUID()}`);
  failuresContainer = database.container("failures");
});

afterAll(async () => {
  cosmosClient?.dispose();
  await Promise.all([azurite?.stop(), cosmos?.stop()]);
});

/** A fresh queue per test, with the sender under test and a plain SDK client to look at it. */
async function freshQueue() {
  const queueName = `q-${randomUUID()}`;
  const sender = StorageQueueSender.create({ queueName, connection: { connectionString: azurite.connectionString } });
  await sender.ensureQueue();
  const reader = new QueueClient(azurite.connectionString, queueName);
  return { sender, reader, queueName };
}

describe("StorageQueueSender on Azurite", () => {
  it("when an envelope is sent, then the queue holds base64 JSON that decodes to the same envelope", async () => {
    const { sender, reader } = await freshQueue();
    const envelope = newEnvelope({ kind: "sign-in-event", tenantId: randomUUID(), body: { userId: randomUUID(), appId: "é-app" } });

    await sender.send(envelope);

    const { receivedMessageItems } = await reader.receiveMessages({ numberOfMessages: 32 });
    expect(receivedMessageItems).toHaveLength(1);
    const text = receivedMessageItems[0]!.messageText;
    expect(text).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(decodeQueueMessage(text)).toEqual(envelope);
  });

  it("when a send is delayed, then the message exists but is not visible at once", async () => {
    const { sender, reader } = await freshQueue();

    await sender.send(newEnvelope({ kind: "sync-job", tenantId: randomUUID(), body: {} }), { delaySeconds: 60 });

    const { receivedMessageItems } = await reader.receiveMessages({ numberOfMessages: 32 });
    expect(receivedMessageItems).toHaveLength(0);
    const { approximateMessagesCount } = await reader.getProperties();
    expect(approximateMessagesCount).toBe(1);
  });

  it("when the queue service is unreachable, then sending fails with unavailable", async () => {
    const closed = await freePort();
    const sender = StorageQueueSender.create({
      queueName: "nowhere",
      connection: { connectionString: azuriteConnectionString({ blob: closed, queue: closed, table: closed }) },
      pipeline: { retryOptions: { maxTries: 1, tryTimeoutInMs: 2000 } },
    });

    await expect(sender.send(newEnvelope({ kind: "sync-job", tenantId: "t1", body: {} }))).rejects.toMatchObject({
      kind: "unavailable",
      transient: true,
    });
  });
});

describe("processMessage with Azurite and the Cosmos failure store", () => {
  it("when a handler fails permanently, then the failure is recorded once (even if re-delivered) and can be read back", async () => {
    const { sender, queueName } = await freshQueue();
    const failures = new CosmosFailureStore(failuresContainer);
    const envelope = newEnvelope({ kind: "sign-in-event", tenantId: randomUUID(), body: { userId: "u1" } });
    const deps = { sender, failures, log: silentLogger };
    const refuse = () => Promise.reject(businessRule("no-license-available", "No product of the policy has a license left"));

    const first = await processMessage(envelope, refuse, deps);
    const redelivered = await processMessage(envelope, refuse, deps);

    expect(first.outcome).toBe("failed");
    expect(redelivered.outcome).toBe("failed");
    if (first.outcome !== "failed") return;
    const stored = await failures.get(first.failure.id, first.failure.partitionKey);
    expect(stored).toEqual(first.failure);
    expect(stored).toMatchObject({
      tenantId: envelope.tenantId,
      kind: "sign-in-event",
      reason: "no-license-available: No product of the policy has a license left",
      envelope,
      attempts: 1,
      transport: "storage-queue",
      queue: queueName,
    });
    expect(await failures.get(first.failure.id)).toEqual(first.failure);
    const listed = await failures.list(envelope.tenantId, { limit: 10 });
    expect(listed.items).toEqual([first.failure]);
    expect(listed.continuationToken).toBeNull();
  });

  it("when a malformed message arrives, then its raw content is kept in the failure store", async () => {
    const { sender } = await freshQueue();
    const failures = new CosmosFailureStore(failuresContainer);
    const raw = `{"kind":"sign-in-event","oops":${randomUUID().length}`;

    const result = await processMessage(raw, () => Promise.resolve(), { sender, failures, log: silentLogger });

    expect(result.outcome).toBe("failed");
    if (result.outcome !== "failed") return;
    expect(await failures.get(result.failure.id, result.failure.partitionKey)).toMatchObject({ raw, tenantId: "unknown" });
  });

  it("when a handler fails transiently, then the next attempt is on the queue, hidden for the delay", async () => {
    const { sender, reader } = await freshQueue();
    const failures = new CosmosFailureStore(failuresContainer);
    const envelope = newEnvelope({ kind: "sync-job", tenantId: randomUUID(), body: {} });

    const result = await processMessage(envelope, () => Promise.reject(unavailable("Dataverse is down")), {
      sender,
      failures,
      log: silentLogger,
    });

    expect(result).toMatchObject({ outcome: "retry-scheduled", nextAttempt: 2, delaySeconds: 5 });
    expect((await reader.receiveMessages()).receivedMessageItems).toHaveLength(0);
    expect((await reader.getProperties()).approximateMessagesCount).toBe(1);
    expect((await failures.list(envelope.tenantId, { limit: 10 })).items).toHaveLength(0);
  });
});
