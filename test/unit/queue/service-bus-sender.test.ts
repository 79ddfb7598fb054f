import { describe, expect, it } from "vitest";
import { ServiceBusError, type ServiceBusMessage } from "@azure/service-bus";
import { AppError } from "../../../shared/errors/app-error.js";
import { newEnvelope } from "../../../shared/queue/envelope.js";
import { ServiceBusQueueSender, type ServiceBusSenderLike } from "../../../shared/queue/service-bus-sender.js";

const NOW = new Date("2026-03-15T10:00:00.000Z");

class FakeSdkSender implements ServiceBusSenderLike {
  readonly sent: ServiceBusMessage[] = [];
  closed = false;
  failWith: Error | undefined;

  sendMessages(messages: Parameters<ServiceBusSenderLike["sendMessages"]>[0]): Promise<void> {
    if (this.failWith) return Promise.reject(this.failWith);
    this.sent.push(...((Array.isArray(messages) ? messages : [messages]) as ServiceBusMessage[]));
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

function setup() {
  const sdk = new FakeSdkSender();
  const sender = new ServiceBusQueueSender("sign-in-events", sdk, undefined, () => NOW);
  const envelope = newEnvelope({ id: "evt-123", kind: "sign-in-event", tenantId: "tenant-1", body: { userId: "u1" } });
  return { sdk, sender, envelope };
}

describe("ServiceBusQueueSender", () => {
  it("when an envelope is sent, then the message carries its id as messageId, its JSON as bytes and kind/tenant/attempt properties", async () => {
    const { sdk, sender, envelope } = setup();

    await sender.send(envelope);

    expect(sdk.sent).toHaveLength(1);
    const message = sdk.sent[0]!;
    expect(message.messageId).toBe("evt-123");
    expect(message.contentType).toBe("application/json");
    expect(Buffer.isBuffer(message.body)).toBe(true);
    expect(JSON.parse((message.body as Buffer).toString("utf8"))).toEqual(envelope);
    expect(message.applicationProperties).toEqual({ kind: "sign-in-event", tenantId: "tenant-1", attempt: 1 });
    expect(message.scheduledEnqueueTimeUtc).toBeUndefined();
  });

  it("when a delay is asked, then the message is scheduled that many seconds ahead", async () => {
    const { sdk, sender, envelope } = setup();

    await sender.send(envelope, { delaySeconds: 20 });

    expect(sdk.sent[0]!.scheduledEnqueueTimeUtc).toEqual(new Date("2026-03-15T10:00:20.000Z"));
  });

  it("when a retry attempt is sent, then its messageId differs from the original so duplicate detection keeps it", async () => {
    const { sdk, sender, envelope } = setup();

    await sender.send({ ...envelope, attempt: 3 });

    expect(sdk.sent[0]!.messageId).toBe("evt-123#3");
    expect(sdk.sent[0]!.applicationProperties).toMatchObject({ attempt: 3 });
  });

  it("when Service Bus is busy, then the send fails with unavailable and a retry-after", async () => {
    const { sdk, sender, envelope } = setup();
    sdk.failWith = new ServiceBusError("server busy", "ServiceBusy");

    const error = await sender.send(envelope).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ kind: "unavailable", retryAfterSeconds: 10, transient: true });
  });

  it("when the namespace is unreachable, then the send fails with unavailable", async () => {
    const { sdk, sender, envelope } = setup();
    sdk.failWith = new ServiceBusError("connection lost", "ServiceCommunicationProblem");

    await expect(sender.send(envelope)).rejects.toMatchObject({ kind: "unavailable" });
  });

  it("when the queue does not exist, then the SDK error is not disguised as an outage", async () => {
    const { sdk, sender, envelope } = setup();
    const notFound = new ServiceBusError("no such entity", "MessagingEntityNotFound");
    sdk.failWith = notFound;

    await expect(sender.send(envelope)).rejects.toBe(notFound);
  });

  it("when closed, then the SDK sender is closed", async () => {
    const { sdk, sender } = setup();

    await sender.close();

    expect(sdk.closed).toBe(true);
  });
});
