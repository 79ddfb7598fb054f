import { describe, expect, it } from "vitest";
import { z } from "zod";
import { AppError } from "../../../shared/errors/app-error.js";
import { decodeCursor, encodeCursor, listQuerySchema, ifMatchAccepts, multiUserResponse, oneLineTextSchema, requireIfMatch } from "../../../shared/http/conventions.js";
import { onboardTenantBodySchema } from "../../../shared/tenants/tenant.js";
import { toProblemResponse } from "../../../shared/http/problem.js";

const T1 = "3f1a2b4c-0000-4000-8000-000000000001";
const T2 = "3f1a2b4c-0000-4000-8000-000000000002";

describe("list conventions", () => {
  it("when limit is absent, then it defaults to 50; outside 1..200 it is refused", () => {
    expect(listQuerySchema.parse({}).limit).toBe(50);
    expect(listQuerySchema.safeParse({ limit: "0" }).success).toBe(false);
    expect(listQuerySchema.safeParse({ limit: "201" }).success).toBe(false);
    expect(listQuerySchema.parse({ limit: "200" }).limit).toBe(200);
    // Decimal digits only: Number() would read these as 16 and 100.
    for (const limit of ["0x10", "1e2", "16.0", " 16", "+16"]) expect(listQuerySchema.safeParse({ limit }).success, limit).toBe(false);
  });

  it("when limit is given twice (the host joins the values with a comma), then the message says how limit is given - not NaN", () => {
    const result = listQuerySchema.safeParse({ limit: "1,2" });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe("must be a whole number from 1 to 200, given once");
    expect(result.error?.issues[0]?.message).not.toMatch(/NaN/);
  });

  it("when a cursor is replayed for the tenant and filter it was issued for, then it yields its position", () => {
    const c = encodeCursor(T1, { q: "ann" }, "token-123");
    expect(decodeCursor(c, T1, { q: "ann" })).toBe("token-123");
  });

  it("when a cursor is replayed for another tenant or filter, or is garbage, then it is a 400 naming the cursor", () => {
    const c = encodeCursor(T1, { q: "ann" }, "token-123");
    // The same binding with another position: an edited cursor.
    const edited = Buffer.from(JSON.stringify({ ...(JSON.parse(Buffer.from(c, "base64url").toString("utf8")) as object), p: "token-999" })).toString("base64url");
    for (const attempt of [() => decodeCursor(c, T2, { q: "ann" }), () => decodeCursor(c, T1, { q: "bob" }), () => decodeCursor("xyz", T1, {}), () => decodeCursor(edited, T1, { q: "ann" })]) {
      expect(attempt).toThrowError(AppError);
      try {
        attempt();
      } catch (e) {
        expect((e as AppError).status).toBe(400);
        expect((e as AppError).errors?.[0]?.path).toBe("cursor");
      }
    }
  });
});

describe("multi-user results", () => {
  it("when every outcome succeeded or was skipped, then 200; when any failed, then 207", () => {
    expect(multiUserResponse([{ userId: "a", outcome: "succeeded" }, { userId: "b", outcome: "skipped" }]).status).toBe(200);
    expect(
      multiUserResponse([{ userId: "a", outcome: "succeeded" }, { userId: "b", outcome: "failed", error: { code: "x", message: "y" } }]).status,
    ).toBe(207);
  });
});

describe("problem+json", () => {
  it("when a business rule refuses, then the problem carries status, type, detail and extensions", () => {
    const res = toProblemResponse(new AppError("businessRule", "Not enough licenses.", { code: "not-enough-licenses", extensions: { skuId: "s", shortBy: 3 } }));
    expect(res.status).toBe(422);
    expect((res.headers as Record<string, string>)["Content-Type"]).toBe("application/problem+json");
    const body = JSON.parse(res.body as string);
    expect(body).toMatchObject({ status: 422, detail: "Not enough licenses.", skuId: "s", shortBy: 3 });
    expect(body.type).toMatch(/\/problems\/not-enough-licenses$/);
  });

  it("when a zod error escapes, then it is a 400 with path and message per field", () => {
    const err = z.object({ a: z.number() }).safeParse({ a: "x" }).error!;
    const body = JSON.parse(toProblemResponse(err).body as string);
    expect(body.status).toBe(400);
    expect(body.errors).toEqual([{ path: "a", message: expect.any(String) }]);
  });

  it("when an unknown error escapes, then it is a 500 without its message or stack", () => {
    const logged: unknown[] = [];
    const res = toProblemResponse(new Error("secret internals at /x/y.ts:12"), { error: (...a: unknown[]) => logged.push(a) });
    expect(res.status).toBe(500);
    expect(res.body as string).not.toContain("secret internals");
    expect(logged).toHaveLength(1);
  });

  it("when throttled past the retry budget, then 503 carries Retry-After", () => {
    const res = toProblemResponse(new AppError("unavailable", "Graph is throttling.", { retryAfterSeconds: 7.2 }));
    expect(res.status).toBe(503);
    expect((res.headers as Record<string, string>)["Retry-After"]).toBe("8");
  });
});

describe("If-Match", () => {
  it("when If-Match is missing, then 428; when present, its value", () => {
    expect(() => requireIfMatch(new Headers())).toThrowError(expect.objectContaining({ status: 428 }) as Error);
    expect(requireIfMatch(new Headers({ "If-Match": '"abc"' }))).toBe('"abc"');
    // A bare tag is the same tag, quoted as ETags are; * stays *.
    expect(requireIfMatch(new Headers({ "If-Match": "abc" }))).toBe('"abc"');
    expect(requireIfMatch(new Headers({ "If-Match": "*" }))).toBe("*");
  });

  it("when If-Match lists entity-tags, then it matches when any of them is the current ETag by strong comparison; * when the resource exists", () => {
    const etag = '"00000a00-0000-0000-0000-000000000000"';
    expect(ifMatchAccepts(etag, etag)).toBe(true);
    expect(ifMatchAccepts(`"older", ${etag}`, etag)).toBe(true);
    expect(ifMatchAccepts(`"older" ,"oldest"`, etag)).toBe(false);
    expect(ifMatchAccepts(`W/${etag}`, etag)).toBe(false); // a weak tag never passes If-Match
    expect(ifMatchAccepts("*", etag)).toBe(true);
    expect(ifMatchAccepts("*", undefined)).toBe(false);
    expect(ifMatchAccepts(requireIfMatch(new Headers({ "If-Match": "00000a00-0000-0000-0000-000000000000" })), etag)).toBe(true);
  });
});

describe("names an admin gives (one line of text)", () => {
  it("when a name holds a control character, a line break, a text-direction override or half a character, then it is refused; emoji and accents are text", () => {
    const name = oneLineTextSchema(50);
    for (const bad of ["a\u0000b", "line\nbreak", "tab\tbed", "\u202eevil", "a\u2028b", "half \ud800"]) expect(name.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    for (const good of ["Contoso Ltd.", "Zürich 😀", "日本"]) expect(name.safeParse(good).success, good).toBe(true);
    // A tenant's display name follows the same rule as a policy's name.
    expect(onboardTenantBodySchema.safeParse({ displayName: "line\nbreak" }).success).toBe(false);
    expect(onboardTenantBodySchema.safeParse({ displayName: "half \ud800" }).success).toBe(false);
  });
});
