import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AlertPayload } from "../../../shared/alerts/model.js";
import { guardedLookup, postAlert } from "../../../shared/alerts/webhook.js";

const payload: AlertPayload = {
  id: "7d0b7a52-6f0e-4b8e-9d43-6c1c0a0c1b11", type: "low-stock", tenantId: "t", occurredAt: "2026-11-24T06:00:00.000Z",
  product: { skuId: "s", skuPartNumber: "P", displayName: "Product" }, figures: null, failure: null,
};

let server: Server;
let base: string;
const seen: { path: string; headers: IncomingHttpHeaders; body: string }[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      seen.push({ path: req.url ?? "", headers: req.headers, body });
      const status = Number((req.url ?? "").split("/")[1]);
      if (status === 0) return; // never answers
      res.writeHead(status, status === 302 ? { Location: "http://127.0.0.1:1/elsewhere" } : {}).end("ignored");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("L18 webhook delivery", () => {
  it("when the receiver answers 2xx, then it is delivered as JSON with the alert id as Idempotency-Key", async () => {
    expect(await postAlert(`${base}/204`, payload, "local")).toEqual({ ok: true, status: 204 });
    const request = seen.at(-1);
    expect(request?.headers["idempotency-key"]).toBe(payload.id);
    expect(request?.headers["content-type"]).toMatch(/^application\/json/);
    expect(JSON.parse(request?.body ?? "")).toEqual(payload);
  });

  it("when the receiver is down or overloaded (5xx, 429, 408, refused, silent), then the failure is transient", async () => {
    for (const status of [500, 503, 429, 408]) {
      expect(await postAlert(`${base}/${status}`, payload, "local"), String(status)).toMatchObject({ ok: false, transient: true });
    }
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect(await postAlert(`http://127.0.0.1:${port}/x`, payload, "local")).toMatchObject({ ok: false, transient: true });
    expect(await postAlert(`${base}/0`, payload, "local", 300)).toMatchObject({ ok: false, transient: true, reason: expect.stringMatching(/300 ms/) as unknown });
  });

  it("when the receiver refuses (4xx) or redirects, then the failure is permanent and the redirect is not followed", async () => {
    expect(await postAlert(`${base}/404`, payload, "local")).toMatchObject({ ok: false, transient: false });
    const before = seen.length;
    expect(await postAlert(`${base}/302`, payload, "local")).toMatchObject({ ok: false, transient: false, reason: expect.stringMatching(/redirect/) as unknown });
    expect(seen.slice(before).map((r) => r.path)).toEqual(["/302"]);
  });

  it("when the URL is not allowed where the app runs, then nothing is sent", async () => {
    const before = seen.length;
    expect(await postAlert(`${base}/204`, payload, "azure")).toMatchObject({ ok: false, transient: false, reason: expect.stringMatching(/https/) as unknown });
    expect(seen.length).toBe(before);
  });

  it("when a host name resolves to a loopback or private address in Azure, then the connection is refused at lookup", async () => {
    const result = await new Promise<{ err: NodeJS.ErrnoException | null }>((resolve) => guardedLookup("localhost", {}, (err) => resolve({ err })));
    expect(result.err?.code).toBe("EWEBHOOKBLOCKED");
  });
});
