import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedAlert {
  headers: IncomingHttpHeaders;
  body: { id: string; type: string; tenantId: string; occurredAt: string; product: { skuId: string } | null; figures: { available: number } | null; failure: { code: string; occurrences: number; source?: string; groupId?: string | null; userIds?: string[]; message?: string } | null };
  /** What the receiver answered. */
  status: number;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedAlert[];
  /** Resolves once `predicate` holds for what was received (checked on every request), or rejects after `timeoutMs`. */
  waitFor(predicate: (received: ReceivedAlert[]) => boolean, timeoutMs?: number): Promise<ReceivedAlert[]>;
  close(): Promise<void>;
}

/**
 * A webhook receiver on 127.0.0.1 (a free port), started and stopped by the test. `answer` picks
 * the status of each request from the alert and how often this alert id was seen before.
 */
export async function startReceiver(answer: (body: ReceivedAlert["body"], seenBefore: number) => number = () => 204): Promise<WebhookReceiver> {
  const received: ReceivedAlert[] = [];
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as ReceivedAlert["body"];
      const status = answer(body, received.filter((r) => r.body.id === body.id).length);
      received.push({ headers: req.headers, body, status });
      res.writeHead(status).end();
      for (const w of waiters) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/license-alerts`,
    received,
    waitFor: (predicate, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(received)) return;
          cleanup();
          resolve(received);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`the webhook receiver did not get what was expected within ${timeoutMs} ms; got ${JSON.stringify(received.map((r) => [r.body.type, r.body.product?.skuId, r.status]))}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
