import { describe, expect, it } from "vitest";
import { equalityOn, evaluateFilter, filterProperties, FilterSyntaxError, parseFilter } from "../../../local/sim-cloud/odata/filter.js";

const record: Record<string, unknown> = {
  userType: "Guest",
  accountEnabled: false,
  displayName: "Adele Vance",
  id: "58ae3c04-0eff-4d37-bf91-3aca38d2bb2a",
  createdDateTime: "2024-03-01T10:00:00Z",
  accessmode: 4,
  applicationid: null,
  assignedLicenses: [{ skuId: "6fd2c87f-b296-42f0-b197-1e91e994b900", disabledPlans: [] }],
};
const matches = (filter: string) => evaluateFilter(parseFilter(filter), (path) => record[path[0] ?? ""]);

describe("OData $filter", () => {
  it("when comparing strings, booleans, numbers and null, then eq/ne/gt/le behave as OData (strings case-insensitive)", () => {
    expect(matches("userType eq 'guest'")).toBe(true);
    expect(matches("userType ne 'Guest'")).toBe(false);
    expect(matches("accountEnabled eq false")).toBe(true);
    expect(matches("accessmode gt 3 and accessmode le 4")).toBe(true);
    expect(matches("applicationid eq null")).toBe(true);
    expect(matches("not (accessmode eq 4)")).toBe(false);
  });

  it("when a bare GUID or date-time literal is used, then it compares with the property", () => {
    expect(matches("id eq 58AE3C04-0EFF-4D37-BF91-3ACA38D2BB2A")).toBe(true);
    expect(matches("createdDateTime ge 2024-01-01T00:00:00Z")).toBe(true);
    expect(matches("createdDateTime lt 2024-03-01T09:59:59Z")).toBe(false);
  });

  it("when functions, in and any() are used, then they evaluate", () => {
    expect(matches("startswith(displayName,'adele')")).toBe(true);
    expect(matches("endswith(displayName,'Vance') and contains(displayName,'le V')")).toBe(true);
    expect(matches("startswith(displayName,'x') eq false")).toBe(true);
    expect(matches("id in ('a', '58ae3c04-0eff-4d37-bf91-3aca38d2bb2a')")).toBe(true);
    expect(matches("assignedLicenses/any(x:x/skuId eq 6fd2c87f-b296-42f0-b197-1e91e994b900)")).toBe(true);
    expect(matches("assignedLicenses/any(x:x/skuId eq 00000000-0000-0000-0000-000000000000)")).toBe(false);
    expect(matches("assignedLicenses/any()")).toBe(true);
  });

  it("when quotes are doubled inside a string, then they are one quote", () => {
    expect(evaluateFilter(parseFilter("displayName eq 'O''Brien'"), () => "O'Brien")).toBe(true);
  });

  it("when the filter is malformed, then a FilterSyntaxError says so", () => {
    for (const bad of ["userType eq", "userType eq 'x", "(a eq 1", "a eq 1 garbage", ""]) expect(() => parseFilter(bad)).toThrow(FilterSyntaxError);
  });

  it("when asked for the properties used, then lambda variables are not reported", () => {
    expect(filterProperties(parseFilter("userType eq 'Guest' and assignedLicenses/any(x:x/skuId eq 6fd2c87f-b296-42f0-b197-1e91e994b900)")).sort()).toEqual(["assignedLicenses", "userType"]);
  });

  it("when a filter pins a property to values, then equalityOn returns them for index lookups", () => {
    expect(equalityOn(parseFilter("azureactivedirectoryobjectid eq 58ae3c04-0eff-4d37-bf91-3aca38d2bb2a and isdisabled eq false"), "azureactivedirectoryobjectid")).toEqual(["58ae3c04-0eff-4d37-bf91-3aca38d2bb2a"]);
    expect(equalityOn(parseFilter("id eq 'a' or id eq 'b'"), "id")).toEqual(["a", "b"]);
    expect(equalityOn(parseFilter("id eq 'a' or userType eq 'Guest'"), "id")).toBeNull();
    expect(equalityOn(parseFilter("id in ('A','b')"), "id")).toEqual(["a", "b"]);
  });
});
