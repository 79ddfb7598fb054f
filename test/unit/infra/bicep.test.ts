import { describe, expect, it } from "vitest";
import { allEntries, bodyOf, declaration, get, identifierOf, parseBicep, stringLiterals, tokenize } from "./bicep.js";

describe("the Bicep reader of the infra test", () => {
  it("when a string has interpolations, escapes and nested quotes, then it is one token with its content", () => {
    const [t] = tokenize("'a\\'b ${concat('x', '}')} c'");
    expect(t).toMatchObject({ kind: "string", interpolated: true, value: "a'b ${concat('x', '}')} c" });
  });

  it("when comments contain quotes or braces, then they are ignored", () => {
    const decls = parseBicep("// it's { not code\n/* ' } */\nvar a = 'x' // trailing '\n");
    expect(declaration(decls, "var", "a")?.value).toMatchObject({ kind: "string", value: "x" });
  });

  it("when values span lines (objects, arrays, calls, multi-line conditionals), then they are parsed as one value", () => {
    const source = [
      "@description('d')",
      "param p string = 'v'",
      "var o = union(",
      "  {",
      "    A: 'a'",
      "    'B-quoted': p",
      "  },",
      "  p == 'v'",
      "    ? { C: 'c' }",
      "    : { D: 'd' }",
      ")",
      "var list = [",
      "  { name: 'x', key: '/k' }",
      "  'y'",
      "]",
      "resource r 'Microsoft.X/y@2024-01-01' = if (true) {",
      "  name: 'r'",
      "  properties: {",
      "    flag: cond",
      "      ? 'yes'",
      "      : 'no'",
      "    ref: p",
      "  }",
      "}",
    ].join("\n");
    const decls = parseBicep(source);
    expect(allEntries(declaration(decls, "var", "o")?.value).map((e) => e.key)).toEqual(["A", "B-quoted", "C", "D"]);
    expect(declaration(decls, "var", "list")?.value).toMatchObject({ kind: "array", items: [{ kind: "object" }, { kind: "string", value: "y" }] });
    const r = declaration(decls, "resource", "r");
    expect(r?.type).toBe("Microsoft.X/y@2024-01-01");
    expect(get(bodyOf(r?.value), "properties.flag")).toMatchObject({ kind: "conditional" });
    expect(stringLiterals(get(bodyOf(r?.value), "properties.flag"))).toEqual(["yes", "no"]);
    expect(identifierOf(get(bodyOf(r?.value), "properties.ref"))).toBe("p");
  });

  it("when brackets do not balance, then the reader fails instead of guessing", () => {
    expect(() => parseBicep("var a = {\n  b: 'c'\n")).toThrow(/Unclosed object/);
  });
});
