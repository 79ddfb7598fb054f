import { describe, expect, it } from "vitest";
import { compareFunctionNames, matchRoute, parseRouteTemplate, routesConflict, splitPath } from "../../../local/host/routes.js";

const match = (template: string, path: string) => matchRoute(parseRouteTemplate(template), splitPath(path));

describe("route templates", () => {
  it("matches literal segments case-insensitively, ignoring a trailing slash", () => {
    expect(match("items/list", "/ITEMS/List")).toEqual({});
    expect(match("items/list", "/items/list/")).toEqual({});
    expect(match("items/list", "/items")).toBeUndefined();
    expect(match("items/list", "/items/list/more")).toBeUndefined();
  });

  it("captures parameters, URL-decoded (but %2F stays encoded, as in ASP.NET Core)", () => {
    expect(match("users/{userId}/licenses/{sku}", "/users/a%40b.com/licenses/E5")).toEqual({ userId: "a@b.com", sku: "E5" });
    expect(match("files/{name}", "/files/a%2Fb")).toEqual({ name: "a%2Fb" });
  });

  it("handles optional parameters and defaults", () => {
    expect(match("items/{id}/{detail?}", "/items/1")).toEqual({ id: "1" });
    expect(match("items/{id}/{detail?}", "/items/1/full")).toEqual({ id: "1", detail: "full" });
    expect(match("page/{n=1}", "/page")).toEqual({ n: "1" });
    expect(match("page/{n=1}", "/page/3")).toEqual({ n: "3" });
    expect(match("items/{id}", "/items")).toBeUndefined();
  });

  it("applies constraints", () => {
    expect(match("items/{id:int}", "/items/42")).toEqual({ id: "42" });
    expect(match("items/{id:int}", "/items/-7")).toEqual({ id: "-7" });
    expect(match("items/{id:int}", "/items/4.2")).toBeUndefined();
    expect(match("items/{id:int}", "/items/2147483648")).toBeUndefined();
    expect(match("items/{id:long}", "/items/2147483648")).toEqual({ id: "2147483648" });
    expect(match("u/{id:guid}", "/u/62e90394-69f5-4237-9190-012177145e10")).toBeDefined();
    expect(match("u/{id:guid}", "/u/62e9039469f542379190012177145e10")).toBeDefined();
    expect(match("u/{id:guid}", "/u/not-a-guid")).toBeUndefined();
    expect(match("a/{s:alpha}", "/a/abcXYZ")).toBeDefined();
    expect(match("a/{s:alpha}", "/a/abc1")).toBeUndefined();
    expect(match("b/{f:bool}", "/b/True")).toBeDefined();
    expect(match("b/{f:bool}", "/b/yes")).toBeUndefined();
    expect(match("d/{x:double}", "/d/1.5e3")).toBeDefined();
    expect(match("d/{x:double}", "/d/abc")).toBeUndefined();
    expect(match("n/{x:min(10)}", "/n/9")).toBeUndefined();
    expect(match("n/{x:range(1,5)}", "/n/5")).toBeDefined();
    expect(match("s/{x:length(3)}", "/s/abcd")).toBeUndefined();
    expect(match("r/{x:regex(^\\d{{3}}$)}", "/r/123")).toEqual({ x: "123" });
    expect(match("r/{x:regex(^\\d{{3}}$)}", "/r/1234")).toBeUndefined();
    expect(match("items/{id:int?}", "/items")).toEqual({});
    expect(match("items/{id:int:min(1)}", "/items/0")).toBeUndefined();
  });

  it("matches a catch-all parameter against the rest of the path", () => {
    expect(match("files/{*path}", "/files/a/b/c.txt")).toEqual({ path: "a/b/c.txt" });
    expect(match("files/{**path}", "/files/a/b")).toEqual({ path: "a/b" });
    expect(match("files/{*path}", "/files")).toEqual({});
  });

  it("matches complex segments like ASP.NET Core (right to left)", () => {
    expect(match("dl/{name}.{ext}", "/dl/report.final.pdf")).toEqual({ name: "report.final", ext: "pdf" });
    expect(match("dl/{name}.{ext?}", "/dl/report")).toEqual({ name: "report" });
  });

  it("matches an empty route at the prefix root", () => {
    expect(match("", "/")).toEqual({});
    expect(match("", "/x")).toBeUndefined();
  });

  it("rejects malformed templates", () => {
    expect(() => parseRouteTemplate("a/{id")).toThrow(/unclosed/);
    expect(() => parseRouteTemplate("a/{id:nope}")).toThrow(/unknown route constraint/);
    expect(() => parseRouteTemplate("{*rest}/more")).toThrow(/catch-all/);
    expect(() => parseRouteTemplate("{a}/{A}")).toThrow(/twice/);
    expect(() => parseRouteTemplate("{a}{b}")).toThrow(/literal between/);
  });

  it("orders functions as the host does: by name, ordinal and ignoring case (not by route precedence)", () => {
    expect(["items-new", "Items-Get", "all", "zz-catch-all", "items-get-2"].sort(compareFunctionNames)).toEqual(["all", "Items-Get", "items-get-2", "items-new", "zz-catch-all"]);
  });

  it("finds conflicting routes as the host does: the same template (case and slashes aside) with a method in common, or any method", () => {
    const get = new Set(["GET"]);
    expect(routesConflict({ route: "items/{id}", methods: get }, { route: "/Items/{ID}/", methods: new Set(["GET", "POST"]) })).toBe(true);
    expect(routesConflict({ route: "items/{id}", methods: get }, { route: "items/{id}", methods: new Set(["POST"]) })).toBe(false);
    expect(routesConflict({ route: "items/{id}", methods: undefined }, { route: "items/{id}", methods: new Set(["POST"]) })).toBe(true);
    expect(routesConflict({ route: "items/{id}", methods: get }, { route: "items/{key}", methods: get })).toBe(false);
  });
});
