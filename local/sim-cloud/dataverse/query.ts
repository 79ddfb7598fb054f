import { SimError } from "../http/errors.js";
import type { SimResponse } from "../http/types.js";
import { FilterSyntaxError, filterProperties, parseFilter, type FilterNode, type ValueNode } from "../odata/filter.js";
import type { ColumnType, Row } from "../state/dataverse-db.js";

/** Dataverse's OData error body ({error:{code,message}}) with its usual headers. */
export function dvError(status: number, code: string, message: string, headers: Record<string, string> = {}): SimResponse {
  return { status, headers: { "odata-version": "4.0", "content-type": "application/json; odata.metadata=minimal", ...headers }, json: { error: { code, message } } };
}

export function dvJson(status: number, body: unknown, headers: Record<string, string> = {}): SimResponse {
  return { status, headers: { "odata-version": "4.0", "content-type": "application/json; odata.metadata=minimal", ...headers }, json: body };
}

export function propertyNotFound(name: string, entity: string): SimError {
  return new SimError(400, "0x80060888", `Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.${entity}'.`);
}

export interface Prefer {
  maxPageSize: number | null;
  returnRepresentation: boolean;
  continueOnError: boolean;
  annotations: string | null;
}

export function parsePrefer(value: string | undefined): Prefer {
  const out: Prefer = { maxPageSize: null, returnRepresentation: false, continueOnError: false, annotations: null };
  for (const part of (value ?? "").split(",")) {
    const [k, v] = part.trim().split("=").map((s) => s.trim());
    if (!k) continue;
    if (k === "odata.maxpagesize" && v && /^\d+$/.test(v)) out.maxPageSize = Number(v);
    if (k === "return" && v === "representation") out.returnRepresentation = true;
    if (k === "odata.continue-on-error") out.continueOnError = true;
    if (k === "odata.include-annotations") out.annotations = (v ?? "").replace(/"/g, "");
  }
  return out;
}

export function parseSelect(value: string | null, columns: Record<string, ColumnType>, entity: string): string[] | null {
  if (value === null || value.trim() === "") return null;
  return value.split(",").map((raw) => {
    const name = raw.trim();
    if (!columns[name]) throw propertyNotFound(name, entity);
    return name;
  });
}

/** $filter validated against the table's columns; a GUID column compared with a quoted string is a type error, as in Dataverse. */
export function parseDvFilter(value: string | null, columns: Record<string, ColumnType>, entity: string): FilterNode | null {
  if (value === null || value.trim() === "") return null;
  let node: FilterNode;
  try {
    node = parseFilter(value);
  } catch (err) {
    if (err instanceof FilterSyntaxError) throw new SimError(400, "0x80060888", `Syntax error: ${err.message}`);
    throw err;
  }
  for (const prop of filterProperties(node)) if (!columns[prop]) throw propertyNotFound(prop, entity);
  checkTypes(node, columns);
  return node;
}

function checkTypes(node: FilterNode, columns: Record<string, ColumnType>): void {
  const columnOf = (v: ValueNode) => (v.type === "path" ? columns[v.path[0] ?? ""] : undefined);
  const check = (a: ValueNode, b: ValueNode) => {
    const type = columnOf(a);
    if (type === "guid" && b.type === "literal" && b.kind === "string") {
      throw new SimError(400, "0x80060888", "A binary operator with incompatible types was detected. Found operand types 'Edm.Guid' and 'Edm.String' for operator kind 'Equal'.");
    }
    if ((type === "bool" && b.type === "literal" && b.kind !== "bool" && b.kind !== "null")
      || (type === "int" && b.type === "literal" && b.kind !== "number" && b.kind !== "null")) {
      throw new SimError(400, "0x80060888", `A binary operator with incompatible types was detected for property '${a.type === "path" ? a.path[0] : ""}'.`);
    }
  };
  switch (node.type) {
    case "or":
    case "and":
      checkTypes(node.left, columns);
      checkTypes(node.right, columns);
      break;
    case "not":
      checkTypes(node.operand, columns);
      break;
    case "cmp":
      check(node.left, node.right);
      check(node.right, node.left);
      break;
    default:
      break;
  }
}

export interface OrderBy {
  column: string;
  desc: boolean;
}

export function parseOrderBy(value: string | null, columns: Record<string, ColumnType>, entity: string): OrderBy[] | null {
  if (value === null || value.trim() === "") return null;
  return value.split(",").map((part) => {
    const [column, dir] = part.trim().split(/\s+/);
    if (!column || !columns[column]) throw propertyNotFound(column ?? "", entity);
    return { column, desc: (dir ?? "asc").toLowerCase() === "desc" };
  });
}

export function compareRows(a: Row, b: Row, order: OrderBy[]): number {
  for (const o of order) {
    const x = a[o.column];
    const y = b[o.column];
    if (x === y) continue;
    if (x === null || x === undefined) return o.desc ? 1 : -1;
    if (y === null || y === undefined) return o.desc ? -1 : 1;
    const c = typeof x === "string" && typeof y === "string" ? x.localeCompare(y) : x < y ? -1 : 1;
    return o.desc ? -c : c;
  }
  return 0;
}

export function parseTop(value: string | null): number | null {
  if (value === null) return null;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new SimError(400, "0x80060888", `The value '${value}' is not valid for $top.`);
  return Number(value);
}

/** The opaque $skiptoken of a Dataverse nextLink: a paging cookie holding the last position. */
export function makeSkipToken(page: number, position: number): string {
  const inner = encodeURIComponent(`<cookie page="${page - 1}"><position value="${position}" /></cookie>`);
  return `<cookie pagenumber="${page}" pagingcookie="${inner}" istracking="False" />`;
}

export function readSkipToken(token: string): { page: number; position: number } | null {
  const page = /pagenumber="(\d+)"/.exec(token);
  const cookie = /pagingcookie="([^"]*)"/.exec(token);
  if (!page?.[1] || cookie?.[1] === undefined) return null;
  let decoded: string;
  try {
    decoded = decodeURIComponent(cookie[1]);
  } catch {
    return null;
  }
  const pos = /position value="(\d+)"/.exec(decoded);
  if (!pos?.[1]) return null;
  return { page: Number(page[1]), position: Number(pos[1]) };
}

export function project(row: Row, select: string[] | null, key: string, etag?: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (etag !== undefined) out["@odata.etag"] = `W/"${etag}"`;
  if (!select) return Object.assign(out, row);
  for (const col of select) out[col] = row[col] ?? null;
  if (!select.includes(key)) out[key] = row[key] ?? null;
  return out;
}
