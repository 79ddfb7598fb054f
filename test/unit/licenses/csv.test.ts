import { describe, expect, it } from "vitest";
import { toCsv } from "../../../shared/licenses/csv.js";
import { activeUserRowsCsv } from "../../../shared/licenses/reports.js";

describe("CSV (RFC 4180, L13)", () => {
  it("when a field holds a comma, quote, CR or LF, then it is quoted with quotes doubled; lines end in CRLF", () => {
    expect(toCsv(["a", "b"], [["x,y", 'say "hi"'], ["line\nbreak", 3]])).toBe('a,b\r\n"x,y","say ""hi"""\r\n"line\nbreak",3\r\n');
  });

  it("when a cell starts with =, +, -, @, tab or CR, then it is neutralised with a leading apostrophe", () => {
    const cells = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "a=b", null];
    expect(toCsv(["v"], cells.map((c) => [c]))).toBe(`v\r\n'=1+1\r\n'+1\r\n'-1\r\n'@SUM(A1)\r\n'\tx\r\n"'\rx"\r\na=b\r\n\r\n`);
  });

  it("when the report has rows, then the header comes first and labels are human", () => {
    const csv = activeUserRowsCsv([
      { userId: "u", name: "Zoë", email: "z@x", product: "powerApps", productName: "Power Apps", licenseType: "office365", firstAccessAt: "2026-01-01T00:00:00.000Z", lastAccessAt: "2026-01-02T00:00:00.000Z" },
    ]);
    expect(csv).toBe("User name,Email,Product,License type,First access,Last access,User id\r\nZoë,z@x,Power Apps,Via Office 365 plan,2026-01-01T00:00:00.000Z,2026-01-02T00:00:00.000Z,u\r\n");
  });
});
