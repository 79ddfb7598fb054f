import { describe, expect, it } from "vitest";
import { AppError } from "../../../shared/errors/app-error.js";
import { CONTAINERS, monthPartition } from "../../../shared/storage/containers.js";
import { mapCosmosError } from "../../../shared/storage/repository.js";

describe("container declaration", () => {
  it("when read, then names are unique and every partition key is a single path", () => {
    const names = CONTAINERS.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const c of CONTAINERS) expect(c.partitionKeyPath).toMatch(/^\/[A-Za-z]+$/);
    expect(names).toEqual(expect.arrayContaining(["tenants", "settings", "audit", "events", "failures", "leases"]));
  });
});

describe("monthPartition", () => {
  it("when given a date, then the key is tenant|yyyymm in UTC", () => {
    expect(monthPartition("t1", new Date("2026-01-31T23:30:00-02:00"))).toBe("t1|202602");
    expect(monthPartition("t1", "2026-12-01T00:00:00Z")).toBe("t1|202612");
  });

  it("when the tenant id contains the separator or the date is invalid, then it throws", () => {
    expect(() => monthPartition("a|b", new Date())).toThrow();
    expect(() => monthPartition("t1", "not a date")).toThrow();
  });
});

describe("mapCosmosError", () => {
  it("when Cosmos throttles, then the error is unavailable with its retry-after in whole seconds", () => {
    const mapped = mapCosmosError(Object.assign(new Error("429"), { code: 429, retryAfterInMs: 2300 }));
    expect(mapped).toBeInstanceOf(AppError);
    expect(mapped).toMatchObject({ kind: "unavailable", retryAfterSeconds: 3 });
  });

  it.each([503, 408, "ECONNREFUSED", "TimeoutError", "ENOTFOUND"])("when the failure is %s, then it is unavailable", (code) => {
    expect(mapCosmosError(Object.assign(new Error("x"), { code }))).toMatchObject({ kind: "unavailable", transient: true });
  });

  it("when an error status came with no body (the SDK throws a TypeError with the response's diagnostics), then it is unavailable; a TypeError of our own is not", () => {
    const unreadable = Object.assign(new TypeError("Cannot read properties of null (reading 'message')"), { diagnostics: { clientSideRequestStatistics: {} }, headers: {} });
    expect(mapCosmosError(unreadable)).toMatchObject({ kind: "unavailable", transient: true, retryAfterSeconds: 5 });
    const bug = new TypeError("x is not a function");
    expect(mapCosmosError(bug)).toBe(bug);
  });

  it("when the status is 409, 412 or an item 404, then it maps to conflict, preconditionFailed, notFound", () => {
    expect(mapCosmosError({ code: 409 })).toMatchObject({ kind: "conflict" });
    expect(mapCosmosError({ code: 412 })).toMatchObject({ kind: "preconditionFailed" });
    expect(mapCosmosError({ code: 404 })).toMatchObject({ kind: "notFound" });
  });

  it("when the container itself is missing or the query is bad, then the error is returned unchanged", () => {
    const missingContainer = { code: 404, substatus: 1003 };
    const badQuery = { code: 400 };
    expect(mapCosmosError(missingContainer)).toBe(missingContainer);
    expect(mapCosmosError(badQuery)).toBe(badQuery);
  });
});
