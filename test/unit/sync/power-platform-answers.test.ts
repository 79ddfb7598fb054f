import type { TokenCredential } from "@azure/identity";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PowerPlatformClient } from "../../../shared/clients/power-platform.js";
import { AppError } from "../../../shared/errors/app-error.js";

/**
 * What the Power Platform admin API client takes for an answer: addUser's success body is not
 * documented, so any JSON object or no body is success; an error envelope or a body that is not JSON
 * in a 2xx, and an environment of another shape, are Microsoft's failure (`upstream`, 502) - never a
 * user added, never "no such environment".
 */
let server: Server;
let answer: { status: number; body: string } = { status: 200, body: "{}" };
const credential: TokenCredential = { getToken: () => Promise.resolve({ token: "t", expiresOnTimestamp: Date.now() + 3_600_000 }) };
let client: PowerPlatformClient;
const ENV = "00000000-0000-0000-0000-0000000000e1";
const USER = "00000000-0000-0000-0000-0000000000a1";

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(answer.status, { "Content-Type": "application/json" });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  client = new PowerPlatformClient({ baseUrl: `http://127.0.0.1:${port}`, credential, budget: { maxRetries: 0, maxDelaySeconds: 1 }, allowLoopbackDataverse: true });
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function upstreamError(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).kind).toBe("upstream");
  return err as AppError;
}

describe("PowerPlatformClient.addUser's 2xx answers", () => {
  it("when addUser answers 200 {}, then the user is added", async () => {
    answer = { status: 200, body: "{}" };
    expect(await client.addUser(ENV, USER)).toEqual({ ok: true });
  });

  it("when addUser answers 200 with no body, then the user is added", async () => {
    answer = { status: 200, body: "" };
    expect(await client.addUser(ENV, USER)).toEqual({ ok: true });
  });

  it("when addUser answers 200 with an object of other fields, then the user is added (the body is not documented; the record is checked where it is read)", async () => {
    answer = { status: 200, body: JSON.stringify({ userId: USER, state: "Added" }) };
    expect(await client.addUser(ENV, USER)).toEqual({ ok: true });
  });

  it("when addUser answers 200 with an error envelope, then it is an upstream failure", async () => {
    answer = { status: 200, body: JSON.stringify({ error: { code: "InternalError", message: "failed" } }) };
    const err = await upstreamError(client.addUser(ENV, USER));
    expect(err.message).toMatch(/addUser.*unexpected shape/);
  });

  it("when addUser answers 200 with a body that is not JSON, then it is an upstream failure", async () => {
    answer = { status: 200, body: "<html>oops</html>" };
    await upstreamError(client.addUser(ENV, USER));
  });

  it("when addUser refuses (403), then the refusal is returned, not thrown", async () => {
    answer = { status: 403, body: JSON.stringify({ error: { code: "UserNotInSecurityGroup", message: "not a member" } }) };
    expect(await client.addUser(ENV, USER)).toMatchObject({ ok: false, status: 403, code: "UserNotInSecurityGroup" });
  });
});

describe("PowerPlatformClient.getEnvironment's answers", () => {
  it("when the environment answers with another shape, then it is an upstream failure, not null (not found)", async () => {
    answer = { status: 200, body: JSON.stringify({ unexpected: "An answer of an unexpected shape." }) };
    await upstreamError(client.getEnvironment(ENV));
  });

  it("when the environment answers 404, then it is null (not found)", async () => {
    answer = { status: 404, body: JSON.stringify({ error: { code: "EnvironmentNotFound", message: "not found" } }) };
    expect(await client.getEnvironment(ENV)).toBeNull();
  });

  it("when the environment answers its documented shape, then it is read", async () => {
    answer = { status: 200, body: JSON.stringify({ name: ENV, properties: { displayName: "Prod", environmentSku: "Production" } }) };
    expect(await client.getEnvironment(ENV)).toMatchObject({ id: ENV, displayName: "Prod", type: "Production", dataverse: null });
  });
});
