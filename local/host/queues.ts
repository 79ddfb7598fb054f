/**
 * Storage-queue triggers, following the queues extension (v5): poll `batchSize` messages at a
 * time while at most `newBatchThreshold` are in flight, randomized exponential back-off from
 * 100 ms up to `maxPollingInterval` when the queue is empty, a 10-minute visibility for messages
 * being processed (renewed), delete on success, `visibilityTimeout` before a retry on failure,
 * and `<queue>-poison` (original message body) once `maxDequeueCount` attempts have failed.
 */
import type { QueueClient, DequeuedMessageItem } from "@azure/storage-queue";
import type { QueuesOptions } from "./config.js";
import type { RegisteredFunction, RpcTypedData } from "./core.js";
import { jsonDate, sysMetadata, type Invoker, type InvokeOutcome } from "./invoke.js";
import { errorMessage, type HostLogger } from "./log.js";
import type { OutputWriter } from "./outputs.js";
import { decodeMessage, type StorageQueues } from "./storage.js";

const MIN_POLL_MS = 100;
const PROCESSING_VISIBILITY_S = 600;
const RENEW_EVERY_MS = (PROCESSING_VISIBILITY_S / 2) * 1000;

export interface QueueTarget {
  fn: RegisteredFunction;
  triggerName: string;
  /** Resolved and normalised queue name. */
  queueName: string;
  connection: string | undefined;
}

/** The extension's RandomizedExponentialBackoffStrategy (minimum 100 ms, delta 100 ms, ±20%). */
export class PollingBackoff {
  #current = MIN_POLL_MS;
  #exponent = 1;

  constructor(private readonly maxMs: number, private readonly random: () => number = Math.random) {}

  next(foundMessages: boolean): number {
    if (foundMessages) {
      this.#current = MIN_POLL_MS;
      this.#exponent = 1;
    } else if (this.#current !== this.maxMs) {
      const factor = 0.8 + this.random() * 0.4;
      const interval = MIN_POLL_MS + factor * 2 ** (this.#exponent - 1) * MIN_POLL_MS;
      if (interval < this.maxMs) {
        this.#current = interval;
        this.#exponent++;
      } else {
        this.#current = this.maxMs;
      }
    }
    return this.#current;
  }
}

/** LOCAL_HOST_QUEUE_STATS=1 (benchmarks): one log line per second with what a listener did. */
class ListenerActivity {
  #counts = ListenerActivity.#zero();
  #timer: NodeJS.Timeout | undefined;

  static #zero() {
    return { receives: 0, receiveMs: 0, receiveMsMax: 0, received: 0, done: 0, completeMs: 0, completeMsMax: 0 };
  }

  received(ms: number, messages: number): void {
    const c = this.#counts;
    c.receives++;
    c.receiveMs += ms;
    c.receiveMsMax = Math.max(c.receiveMsMax, Math.round(ms));
    c.received += messages;
  }

  completed(ms: number): void {
    const c = this.#counts;
    c.done++;
    c.completeMs += ms;
    c.completeMsMax = Math.max(c.completeMsMax, Math.round(ms));
  }

  start(queue: string, inFlight: () => number, logger: HostLogger): void {
    this.#timer ??= setInterval(() => {
      const c = this.#counts;
      this.#counts = ListenerActivity.#zero();
      if (!c.receives && !c.done && !inFlight()) return;
      const avg = (total: number, n: number) => (n ? Math.round(total / n) : 0);
      logger.info(
        `queue-stats ${JSON.stringify({ queue, inFlight: inFlight(), receives: c.receives, receiveMsAvg: avg(c.receiveMs, c.receives), receiveMsMax: c.receiveMsMax, received: c.received, done: c.done, completeMsAvg: avg(c.completeMs, c.done), completeMsMax: c.completeMsMax })}`,
      );
    }, 1000).unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

export class QueueListener {
  readonly #queue: QueueClient;
  readonly #poison: QueueClient;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #pollFailing = false;
  /** Counters, for tests and the listing. */
  readonly stats = { received: 0, succeeded: 0, failed: 0, poisoned: 0 };
  readonly #activity = process.env.LOCAL_HOST_QUEUE_STATS === "1" ? new ListenerActivity() : undefined;

  constructor(
    readonly target: QueueTarget,
    private readonly deps: { invoker: Invoker; outputs: OutputWriter; storage: StorageQueues; options: QueuesOptions; logger: HostLogger },
  ) {
    this.#queue = deps.storage.queue(target.connection, target.queueName);
    this.#poison = deps.storage.queue(target.connection, `${target.queueName}-poison`);
  }

  get name(): string {
    return this.target.fn.metadata.name;
  }

  start(): void {
    this.#loop ??= this.#run();
    this.#activity?.start(this.target.queueName, () => this.#inFlight.size, this.deps.logger);
  }

  /** Stops polling, then waits for messages being processed (at most `timeoutMs`). */
  async stop(timeoutMs: number): Promise<void> {
    this.#abort.abort();
    this.#activity?.stop();
    this.#wake?.();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise((r) => (timer = setTimeout(r, timeoutMs)));
    await Promise.race([this.#loop, deadline]);
    await Promise.race([Promise.allSettled([...this.#inFlight]), deadline]);
    clearTimeout(timer);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.#wake = done;
    });
  }

  async #run(): Promise<void> {
    const { options, logger, storage } = this.deps;
    const backoff = new PollingBackoff(options.maxPollingIntervalMs);
    while (!this.#abort.signal.aborted) {
      let delay: number;
      try {
        await storage.ensure(this.#queue, this.#abort.signal);
        await storage.ensure(this.#poison, this.#abort.signal);
        if (this.#inFlight.size > options.newBatchThreshold) {
          await new Promise<void>((resolve) => {
            this.#wake = resolve;
            void Promise.race(this.#inFlight).then(() => resolve());
          });
          continue;
        }
        const receiveStarted = performance.now();
        const { receivedMessageItems } = await this.#queue.receiveMessages({
          numberOfMessages: options.batchSize,
          visibilityTimeout: PROCESSING_VISIBILITY_S,
          abortSignal: this.#abort.signal,
        });
        this.#activity?.received(performance.now() - receiveStarted, receivedMessageItems.length);
        if (this.#pollFailing) logger.info(`Queue '${this.target.queueName}' is reachable again`);
        this.#pollFailing = false;
        for (const message of receivedMessageItems) {
          const work = this.#process(message);
          this.#inFlight.add(work);
          void work.finally(() => {
            this.#inFlight.delete(work);
            this.#wake?.();
          });
        }
        delay = backoff.next(receivedMessageItems.length > 0);
      } catch (err) {
        if (this.#abort.signal.aborted) break;
        if (!this.#pollFailing) logger.warn(`Polling queue '${this.target.queueName}' for function '${this.name}' failed: ${errorMessage(err)} (retrying)`);
        this.#pollFailing = true;
        delay = backoff.next(false);
      }
      if (this.#abort.signal.aborted) break;
      await this.#sleep(delay);
    }
  }

  async #process(message: DequeuedMessageItem): Promise<void> {
    const { options, logger, invoker, outputs } = this.deps;
    const { fn, triggerName, queueName } = this.target;
    this.stats.received++;
    let popReceipt = message.popReceipt;
    let renewing = Promise.resolve();
    const renewal = setInterval(() => {
      renewing = this.#queue
        .updateMessage(message.messageId, popReceipt, undefined, PROCESSING_VISIBILITY_S)
        .then((r) => void (popReceipt = r.popReceipt ?? popReceipt))
        .catch((err: unknown) => logger.warn(`Renewing visibility of message ${message.messageId} failed: ${errorMessage(err)}`));
    }, RENEW_EVERY_MS);
    renewal.unref();
    const stopRenewing = async () => {
      clearInterval(renewal);
      await renewing;
    };
    try {
      if (message.dequeueCount > options.maxDequeueCount) {
        await stopRenewing();
        await this.#moveToPoison(message, popReceipt, `Message has reached MaxDequeueCount of ${options.maxDequeueCount}.`);
        return;
      }
      const text = decodeMessage(message.messageText, options.messageEncoding);
      if (text === undefined) {
        await stopRenewing();
        await this.#moveToPoison(message, popReceipt, `Message decoding has failed! Check MessageEncoding settings. MessageId=${message.messageId}.`);
        return;
      }
      const triggerMetadata: Record<string, RpcTypedData> = {
        QueueTrigger: { string: text },
        DequeueCount: { json: String(message.dequeueCount) },
        Id: { string: message.messageId },
        PopReceipt: { string: popReceipt },
        InsertionTime: jsonDate(message.insertedOn),
        ExpirationTime: jsonDate(message.expiresOn),
        NextVisibleTime: jsonDate(message.nextVisibleOn),
        sys: sysMetadata(fn.metadata.name),
      };
      let outcome: InvokeOutcome = await invoker.invoke({
        fn,
        reason: `New queue message detected on '${queueName}'.`,
        inputData: [{ name: triggerName, data: { string: text } }],
        triggerMetadata,
      });
      if (outcome.succeeded) {
        try {
          await outputs.write(fn, outcome.response);
        } catch (error) {
          logger.error(`Function '${fn.metadata.name}': writing output bindings failed: ${errorMessage(error)}`);
          outcome = { invocationId: outcome.invocationId, succeeded: false, error, durationMs: outcome.durationMs };
        }
      }
      await stopRenewing();
      if (outcome.succeeded) {
        this.stats.succeeded++;
        const completeStarted = performance.now();
        await this.#queue.deleteMessage(message.messageId, popReceipt);
        this.#activity?.completed(performance.now() - completeStarted);
      } else {
        this.stats.failed++;
        if (message.dequeueCount >= options.maxDequeueCount) {
          await this.#moveToPoison(message, popReceipt, `Message has reached MaxDequeueCount of ${options.maxDequeueCount}.`);
        } else {
          await this.#queue.updateMessage(message.messageId, popReceipt, undefined, Math.round(options.visibilityTimeoutMs / 1000));
        }
      }
    } catch (err) {
      logger.error(`Completing message ${message.messageId} from queue '${queueName}' failed: ${errorMessage(err)}`);
    } finally {
      clearInterval(renewal);
    }
  }

  async #moveToPoison(message: DequeuedMessageItem, popReceipt: string, why: string): Promise<void> {
    const poisonName = `${this.target.queueName}-poison`;
    this.deps.logger.warn(`${why} Moving message to queue '${poisonName}'.`, { functionName: this.name });
    await this.deps.storage.ensure(this.#poison);
    await this.#poison.sendMessage(message.messageText); // the original body, still encoded
    await this.#queue.deleteMessage(message.messageId, popReceipt);
    this.stats.poisoned++;
  }
}
