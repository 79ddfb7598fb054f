import { stringify } from "csv-stringify/sync";

/**
 * RFC 4180 CSV through csv-stringify (header row, CRLF line ends, quoting as needed), with
 * spreadsheet formula injection neutralised: a cell that starts with =, +, - or @ (or a tab /
 * carriage return, which some spreadsheets skip before reading a formula) gets a leading
 * apostrophe, so it is shown as text and never run. No CSV library does that part by default.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

type Cell = string | number | null | undefined;

export function neutralise(cell: string): string {
  return FORMULA_START.test(cell) ? `'${cell}` : cell;
}

export function toCsv(header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = (c: Cell) => neutralise(c === null || c === undefined ? "" : String(c));
  return stringify([header.map(text), ...rows.map((r) => r.map(text))], {
    record_delimiter: "\r\n",
    eof: true,
    // RFC 4180 quotes any field holding a line break; csv-stringify alone quotes only "\r\n".
    quoted_match: /[\r\n]/,
  });
}
