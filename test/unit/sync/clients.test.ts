import { describe, expect, it } from "vitest";
import { countOperations, parseBatch, writeBatchResponse } from "../../../local/sim-cloud/dataverse/batch.js";
import { buildBatchBody, parseBatchResponse } from "../../../shared/clients/dataverse.js";
import { toPlatformEnvironment, trustedDataverseUrl } from "../../../shared/clients/power-platform.js";
import { tuneBatchSize } from "../../../shared/sync/environment-run.js";

describe("D15: only the platform's Dataverse URLs are called", () => {
  it("when the platform reports a Dataverse host, then its URL is used (normalised)", () => {
    expect(trustedDataverseUrl("https://contoso.crm4.dynamics.com", false)).toBe("https://contoso.crm4.dynamics.com/");
    expect(trustedDataverseUrl("https://org.crm.microsoftdynamics.us/", false)).toBe("https://org.crm.microsoftdynamics.us/");
  });

  it("when a URL is not a Dataverse host, is plain HTTP, or carries a query or credentials, then it is refused", () => {
    expect(trustedDataverseUrl("https://evil.example/", false)).toBeNull();
    expect(trustedDataverseUrl("https://dynamics.com.evil.example/", false)).toBeNull();
    expect(trustedDataverseUrl("http://contoso.crm4.dynamics.com/", false)).toBeNull();
    expect(trustedDataverseUrl("https://contoso.crm4.dynamics.com/?x=1", false)).toBeNull();
    expect(trustedDataverseUrl("https://user:pw@contoso.crm4.dynamics.com/", false)).toBeNull();
  });

  it("when the URL is on loopback, then it is accepted only for the local simulated cloud", () => {
    expect(trustedDataverseUrl("https://127.0.0.1:8443/dataverse/x/", false)).toBeNull();
    expect(trustedDataverseUrl("https://127.0.0.1:8443/dataverse/x/", true)).toBe("https://127.0.0.1:8443/dataverse/x/");
  });

  it("when the platform reports an environment with an untrusted Dataverse URL, then it is treated as having no database", () => {
    const env = toPlatformEnvironment(
      { name: "E1", properties: { displayName: "x", environmentSku: "Production", linkedEnvironmentMetadata: { instanceUrl: "https://evil.example/" } } },
      false,
    );
    expect(env).toMatchObject({ id: "e1", type: "Production", dataverse: null });
  });

  it("when the platform reports app passes allocated to the environment, then the environment has app-pass capacity", () => {
    const env = toPlatformEnvironment(
      { name: "E1", properties: { environmentSku: "Sandbox", addons: [{ addonType: "AppPass", allocated: 5 }] } },
      false,
    );
    expect(env?.appPassCapacity).toBe(true);
  });
});

describe("Dataverse $batch wire format", () => {
  it("when operations are written as a batch, then the service's parser reads each one back with its method, URL, headers and body", () => {
    const apiBase = "https://contoso.crm4.dynamics.com/api/data/v9.2";
    const body = buildBatchBody(apiBase, "batch_x", [
      { method: "PATCH", path: "systemusers(00000000-0000-4000-8000-000000000001)", headers: { "If-Match": "*" }, body: { isdisabled: true } },
      { method: "GET", path: "systemusers?$select=systemuserid" },
    ]);
    const entries = parseBatch(body, "multipart/mixed; boundary=batch_x");
    expect(countOperations(entries)).toBe(2);
    expect(entries[0]).toMatchObject({ kind: "request", request: { method: "PATCH", url: `${apiBase}/systemusers(00000000-0000-4000-8000-000000000001)`, body: '{"isdisabled":true}' } });
    expect(entries[0]?.kind === "request" && entries[0].request.headers["if-match"]).toBe("*");
    expect(entries[1]).toMatchObject({ kind: "request", request: { method: "GET", body: "" } });
  });

  it("when the service answers a batch (with a change set), then each answer is read in order with its status, headers and JSON body", () => {
    const { body, contentType } = writeBatchResponse([
      { kind: "response", response: { status: 204, headers: { "odata-entityid": "x" } }, contentId: "1" },
      { kind: "response", response: { status: 429, headers: { "retry-after": "3" }, json: { error: { code: "0x80072322", message: "slow down" } } }, contentId: "2" },
      { kind: "changeset", responses: [{ response: { status: 200, json: { value: [{ systemuserid: "a" }] } }, contentId: "3" }] },
    ]);
    const parsed = parseBatchResponse(body, contentType);
    expect(parsed.map((p) => p.status)).toEqual([204, 429, 200]);
    expect(parsed[1]).toMatchObject({ headers: { "retry-after": "3" }, body: { error: { code: "0x80072322" } } });
    expect(parsed[2]?.body).toEqual({ value: [{ systemuserid: "a" }] });
  });
});

describe("D12: the batch size is tuned, not maxed", () => {
  it("when actions are fast, then the size grows towards the target duration, at most 4x per step and never past the maximum", () => {
    expect(tuneBatchSize(100, 500, 100, 5000, 1000)).toBe(400);
    expect(tuneBatchSize(400, 400, 400, 5000, 1000)).toBe(1000);
  });

  it("when actions are slow, then the size shrinks (at most 4x per step, not below 10)", () => {
    expect(tuneBatchSize(400, 40_000, 400, 5000, 1000)).toBe(100);
    expect(tuneBatchSize(20, 60_000, 20, 5000, 1000)).toBe(10);
  });
});
