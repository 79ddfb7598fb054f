import { describe, expect, it } from "vitest";
import { countOperations, parseBatch, writeBatchResponse } from "../../../local/sim-cloud/dataverse/batch.js";
import { makeSkipToken, parsePrefer, readSkipToken } from "../../../local/sim-cloud/dataverse/query.js";

const CRLF = "\r\n";

describe("Dataverse $batch format", () => {
  it("when a batch has a change set with Content-IDs and a GET, then both are parsed with methods, URLs, headers and bodies", () => {
    const body = [
      "--batch_AAA123",
      "Content-Type: multipart/mixed; boundary=changeset_BBB456",
      "",
      "--changeset_BBB456",
      "Content-Type: application/http",
      "Content-Transfer-Encoding: binary",
      "Content-ID: 1",
      "",
      "POST https://org.example/api/data/v9.2/systemusers HTTP/1.1",
      "Content-Type: application/json; type=entry",
      "",
      '{"domainname":"a@b"}',
      "--changeset_BBB456",
      "Content-Type: application/http",
      "Content-Transfer-Encoding: binary",
      "Content-ID: 2",
      "",
      "PATCH $1 HTTP/1.1",
      "Content-Type: application/json",
      "",
      '{"title":"x"}',
      "--changeset_BBB456--",
      "",
      "--batch_AAA123",
      "Content-Type: application/http",
      "Content-Transfer-Encoding: binary",
      "",
      "GET /api/data/v9.2/WhoAmI HTTP/1.1",
      "",
      "",
      "--batch_AAA123--",
      "",
    ].join(CRLF);
    const entries = parseBatch(body, 'multipart/mixed; boundary="batch_AAA123"');
    expect(countOperations(entries)).toBe(3);
    expect(entries[0]).toMatchObject({ kind: "changeset", requests: [
      { method: "POST", url: "https://org.example/api/data/v9.2/systemusers", contentId: "1", body: '{"domainname":"a@b"}' },
      { method: "PATCH", url: "$1", contentId: "2", headers: { "content-type": "application/json" } },
    ] });
    expect(entries[1]).toMatchObject({ kind: "request", request: { method: "GET", url: "/api/data/v9.2/WhoAmI", body: "" } });
  });

  it("when a GET is inside a change set, a change set is nested, or there is no boundary, then the batch is refused", () => {
    const nestedGet = ["--b", "Content-Type: multipart/mixed; boundary=c", "", "--c", "Content-Type: application/http", "", "GET /x HTTP/1.1", "", "--c--", "--b--"].join(CRLF);
    expect(() => parseBatch(nestedGet, "multipart/mixed; boundary=b")).toThrow(/GET/);
    expect(() => parseBatch("x", "application/json")).toThrow(/multipart/);
  });

  it("when responses are written, then each part and change set carries the OData batch response framing", () => {
    const { body, contentType } = writeBatchResponse([
      { kind: "changeset", responses: [{ response: { status: 204, headers: { "odata-entityid": "https://x/api/data/v9.2/systemusers(1)" } }, contentId: "1" }] },
      { kind: "response", response: { status: 200, json: { value: [] } }, contentId: null },
    ]);
    const boundary = /boundary=(\S+)/.exec(contentType)?.[1] ?? "";
    expect(boundary).toMatch(/^batchresponse_/);
    expect(body.startsWith(`--${boundary}${CRLF}`)).toBe(true);
    expect(body).toContain("Content-Type: multipart/mixed; boundary=changesetresponse_");
    expect(body).toContain(`Content-ID: 1${CRLF}${CRLF}HTTP/1.1 204 No Content${CRLF}OData-EntityId: https://x/api/data/v9.2/systemusers(1)`);
    expect(body).toContain(`HTTP/1.1 200 OK${CRLF}${CRLF}{"value":[]}`);
    expect(body.trimEnd().endsWith(`--${boundary}--`)).toBe(true);
  });

  it("when paging cookies and Prefer headers are read, then values round-trip", () => {
    const token = makeSkipToken(3, 4711);
    expect(readSkipToken(token)).toEqual({ page: 3, position: 4711 });
    expect(readSkipToken("garbage")).toBeNull();
    expect(parsePrefer('odata.maxpagesize=50, return=representation, odata.include-annotations="*", odata.continue-on-error')).toEqual({
      maxPageSize: 50, returnRepresentation: true, continueOnError: true, annotations: "*",
    });
  });
});
