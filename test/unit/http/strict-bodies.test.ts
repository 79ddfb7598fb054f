import { describe, expect, it } from "vitest";
import type { z } from "zod";
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
