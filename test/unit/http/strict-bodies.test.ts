import { describe, expect, it } from "vitest";
import { z } from "zod";
import { MAX_FIELD_ERRORS, zodIssuesToFieldErrors } from "../../../shared/http/problem.js";
import { onboardTenantBodySchema } from "../../../shared/tenants/tenant.js";
import { API_ENDPOINTS } from "../../../shared/api-catalog.js";

/**
 * Every request body refuses fields it does not know (400 naming them): a misspelt `dryRun` must not
 * turn a dry run into a real change, nor a misspelt `disabledPlans` switch every plan on.
 */
function lenientObjects(schema: z.ZodType, path: string, seen = new Set<unknown>()): string[] {
  if (seen.has(schema)) return [];
  seen.add(schema);
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  const out: string[] = [];
  if (def.type === "object") {
    const catchall = def.catchall as { _zod: { def: { type: string } } } | undefined;
    if (catchall?._zod.def.type !== "never") out.push(path || "(body)");
    for (const [key, value] of Object.entries(def.shape as Record<string, z.ZodType>)) out.push(...lenientObjects(value, path ? `${path}.${key}` : key, seen));
    return out;
  }
  for (const key of ["innerType", "in", "out", "element", "schema"]) {
    const inner = def[key] as z.ZodType | undefined;
    if (inner && typeof inner === "object" && "_zod" in inner) out.push(...lenientObjects(inner, key === "element" ? `${path}[]` : path, seen));
  }
  for (const option of (def.options as z.ZodType[] | undefined) ?? []) out.push(...lenientObjects(option, path, seen));
  return out;
}

describe("request bodies", () => {
  it("when a body carries a field its schema does not know, then it is refused: every object of every body schema is strict", () => {
    // Entra's custom extension event carries more than E1 reads, and its answer is "continue" whatever it holds.
    const lenient = API_ENDPOINTS.filter((d) => d.body && d.name !== "entra-token-issuance-start").flatMap((d) => lenientObjects(d.body as z.ZodType, "").map((p) => `${d.name}: ${p}`));
    expect(lenient).toEqual([]);
  });
});

describe("a body with very many mistakes", () => {
  it("when it holds 200,000 unknown keys, then the answer names 20 of them and counts the rest (it does not echo the body back)", () => {
    const body = Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`k${i}`, 1]));
    const result = onboardTenantBodySchema.safeParse({ displayName: "x", ...body });
    const errors = zodIssuesToFieldErrors(result.error!, "body");
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/^Unrecognized keys: "k0", .*"k19" and 199980 more$/);
    expect(JSON.stringify(errors).length).toBeLessThan(1000);
  });

  it("when a list holds more wrong items than an answer lists, then the first 50 are named and the rest counted", () => {
    const result = z.array(z.string()).safeParse(Array.from({ length: 120 }, () => 1));
    const errors = zodIssuesToFieldErrors(result.error!, "body");
    expect(errors).toHaveLength(MAX_FIELD_ERRORS + 1);
    expect(errors.at(-1)).toEqual({ path: "body", message: "and 70 more problems of the same request" });
  });
});
