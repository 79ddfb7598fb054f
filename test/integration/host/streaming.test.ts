/** An app that turns on HTTP streaming: the host forwards raw requests to the worker's proxy, as in Azure. */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../../local/services.js";
import { fixtureDir, startHostProcess, waitFor, type HostProcess } from "./support.js";

let host: HostProcess | undefined;

beforeAll(async () => {
  host = await startHostProcess([
    "--app", "test/fixtures/host-app/stream.ts",
    "--port", String(await freePort()),
    "--host-json", path.join(fixtureDir, "host.json"),
    "--settings", fixtureDir, // no local.settings.json there: none is needed
  ]);
});

afterAll(async () => {
  const code = await host?.stop();
  if (host) expect(code).toBe(0);
});

describe("HTTP streaming (app.setup({ enableHttpStream: true }))", () => {
  it("streams a large request body to the handler and relays its response", async () => {
    const body = "a".repeat(300_000);
    const res = await fetch(`${host!.url}/api/upload/5?q=z`, { method: "POST", body, headers: { "x-test": "t" } });
    expect(res.status).toBe(201);
    expect(res.headers.get("x-stream")).toBe("on");
    expect(await res.json()).toEqual({ id: "5", q: "z", length: 300_000, header: "t" });
  });

  it("answers 500 when the handler throws and 204 when it returns nothing", async () => {
    const boom = await fetch(`${host!.url}/api/stream-boom`);
    expect(boom.status).toBe(500);
    expect(await boom.text()).toBe("");
    await waitFor("the failure in the log", () => /stream kaboom/.test(host!.output()));
    expect((await fetch(`${host!.url}/api/stream-nothing`)).status).toBe(204);
  });
});
