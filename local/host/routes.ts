/**
 * HTTP route templates as the Functions host (ASP.NET Core routing) reads them: literal segments
 * (case-insensitive), `{name}`, `{name?}`, `{name=default}`, constraints (`{id:int}`,
 * `{id:guid}`, `{n:min(1)}`, `{s:regex(...)}`, ...), catch-all `{*rest}` / `{**rest}` in the last
 * segment, and complex segments such as `{name}.{ext}`. Functions are tried in name order
 * (compareFunctionNames), as the Functions host does.
 */
import { HostConfigError } from "./config.js";

export interface RouteConstraint {
  name: string;
  argument?: string;
  test(value: string): boolean;
}

export interface RouteParameter {
  name: string;
  optional: boolean;
  catchAll: boolean;
  defaultValue?: string;
  constraints: RouteConstraint[];
}

type SegmentPart = { kind: "literal"; text: string } | { kind: "param"; param: RouteParameter };

interface Segment {
  parts: SegmentPart[];
  /** For complex segments: matches the whole decoded segment; groups in parameter order. */
  regex?: RegExp;
}

export interface RouteTemplate {
  template: string;
  segments: Segment[];
  parameters: RouteParameter[];
}

const INT32 = [-(2 ** 31), 2 ** 31 - 1] as const;
const INT64 = [-(2n ** 63n), 2n ** 63n - 1n] as const;

function parseInteger(value: string): bigint | undefined {
  const t = value.trim();
  return /^[+-]?\d+$/.test(t) ? BigInt(t) : undefined;
}

function inRange(value: string, min: bigint, max: bigint): boolean {
  const n = parseInteger(value);
  return n !== undefined && n >= min && n <= max;
}

const isFloat = (v: string) => /^\s*[+-]?(\d[\d,]*(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/.test(v);
const GUID_HEX = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
const GUID = new RegExp(`^\\s*(?:${GUID_HEX}|\\{${GUID_HEX}\\}|\\(${GUID_HEX}\\)|[0-9a-fA-F]{32})\\s*$`);

function makeConstraint(name: string, argument: string | undefined, template: string): RouteConstraint {
  const args = argument === undefined ? [] : argument.split(",").map((a) => a.trim());
  const needArgs = (n: number) => {
    if (args.length !== n) throw new HostConfigError(`route '${template}': constraint '${name}' takes ${n} argument(s)`);
  };
  const intArg = (i: number) => {
    const n = parseInteger(args[i] ?? "");
    if (n === undefined) throw new HostConfigError(`route '${template}': constraint '${name}' needs integer arguments`);
    return n;
  };
  const mk = (test: (v: string) => boolean): RouteConstraint => ({ name, ...(argument === undefined ? {} : { argument }), test });
  switch (name.toLowerCase()) {
    case "int": return mk((v) => inRange(v, BigInt(INT32[0]), BigInt(INT32[1])));
    case "long": return mk((v) => inRange(v, INT64[0], INT64[1]));
    case "bool": return mk((v) => /^\s*(true|false)\s*$/i.test(v));
    case "guid": return mk((v) => GUID.test(v));
    case "alpha": return mk((v) => /^[a-z]*$/i.test(v));
    case "double":
    case "float":
    case "decimal": return mk(isFloat);
    case "datetime": return mk((v) => !Number.isNaN(Date.parse(v)));
    case "required": return mk((v) => v !== "");
    case "min": { needArgs(1); const min = intArg(0); return mk((v) => inRange(v, min, INT64[1])); }
    case "max": { needArgs(1); const max = intArg(0); return mk((v) => inRange(v, INT64[0], max)); }
    case "range": { needArgs(2); const min = intArg(0); const max = intArg(1); return mk((v) => inRange(v, min, max)); }
    case "minlength": { needArgs(1); const min = Number(intArg(0)); return mk((v) => v.length >= min); }
    case "maxlength": { needArgs(1); const max = Number(intArg(0)); return mk((v) => v.length <= max); }
    case "length": {
      if (args.length === 1) { const len = Number(intArg(0)); return mk((v) => v.length === len); }
      needArgs(2);
      const min = Number(intArg(0));
      const max = Number(intArg(1));
      return mk((v) => v.length >= min && v.length <= max);
    }
    case "regex": {
      if (argument === undefined) throw new HostConfigError(`route '${template}': constraint 'regex' needs a pattern`);
      let re: RegExp;
      try {
        re = new RegExp(argument, "i"); // ASP.NET: IgnoreCase | CultureInvariant, not anchored
      } catch (err) {
        throw new HostConfigError(`route '${template}': bad regex constraint: ${(err as Error).message}`);
      }
      return mk((v) => re.test(v));
    }
    case "file": return mk((v) => /\.[^./]+$/.test(v.split("/").pop() ?? ""));
    case "nonfile": return mk((v) => !/\.[^./]+$/.test(v.split("/").pop() ?? ""));
    default:
      throw new HostConfigError(`route '${template}': unknown route constraint '${name}'`);
  }
}

/** Parses the inside of `{...}`. */
function parseParameter(text: string, template: string): RouteParameter {
  let rest = text;
  let catchAll = false;
  if (rest.startsWith("**")) {
    catchAll = true;
    rest = rest.slice(2);
  } else if (rest.startsWith("*")) {
    catchAll = true;
    rest = rest.slice(1);
  }
  const nameMatch = /^[^:=?]+/.exec(rest);
  if (!nameMatch) throw new HostConfigError(`route '${template}': a route parameter needs a name`);
  const name = nameMatch[0];
  if (/[{}/*]/.test(name)) throw new HostConfigError(`route '${template}': bad parameter name '${name}'`);
  rest = rest.slice(name.length);
  const constraints: RouteConstraint[] = [];
  while (rest.startsWith(":")) {
    rest = rest.slice(1);
    const cname = /^[^(:=?]*/.exec(rest)![0];
    rest = rest.slice(cname.length);
    let argument: string | undefined;
    if (rest.startsWith("(")) {
      let depth = 0;
      let i = 0;
      for (; i < rest.length; i++) {
        if (rest[i] === "(") depth++;
        else if (rest[i] === ")" && --depth === 0) break;
      }
      if (depth !== 0) throw new HostConfigError(`route '${template}': unbalanced parentheses in constraint '${cname}'`);
      argument = rest.slice(1, i);
      rest = rest.slice(i + 1);
    }
    constraints.push(makeConstraint(cname, argument, template));
  }
  let optional = false;
  let defaultValue: string | undefined;
  if (rest === "?") {
    optional = true;
  } else if (rest.startsWith("=")) {
    defaultValue = rest.slice(1);
  } else if (rest !== "") {
    throw new HostConfigError(`route '${template}': cannot parse parameter '{${text}}'`);
  }
  if (catchAll && optional) throw new HostConfigError(`route '${template}': a catch-all parameter cannot be marked optional`);
  return { name, optional, catchAll, constraints, ...(defaultValue === undefined ? {} : { defaultValue }) };
}

function parseSegment(text: string, template: string): SegmentPart[] {
  const parts: SegmentPart[] = [];
  let literal = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "{" && text[i + 1] === "{") {
      literal += "{";
      i++;
    } else if (ch === "}" && text[i + 1] === "}") {
      literal += "}";
      i++;
    } else if (ch === "{") {
      let j = i + 1;
      let inner = "";
      for (; j < text.length; j++) {
        if ((text[j] === "}" || text[j] === "{") && text[j + 1] === text[j]) {
          inner += text[j];
          j++;
        } else if (text[j] === "}") {
          break;
        } else {
          inner += text[j];
        }
      }
      if (j >= text.length) throw new HostConfigError(`route '${template}': unclosed '{'`);
      if (literal) parts.push({ kind: "literal", text: literal });
      literal = "";
      const prev = parts[parts.length - 1];
      if (prev?.kind === "param") throw new HostConfigError(`route '${template}': two parameters in a segment need a literal between them`);
      parts.push({ kind: "param", param: parseParameter(inner, template) });
      i = j;
    } else if (ch === "}") {
      throw new HostConfigError(`route '${template}': unmatched '}'`);
    } else {
      literal += ch;
    }
  }
  if (literal) parts.push({ kind: "literal", text: literal });
  return parts;
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export function parseRouteTemplate(template: string): RouteTemplate {
  const trimmed = template.replace(/^~?\/+/, "").replace(/\/+$/, "");
  const rawSegments = trimmed === "" ? [] : trimmed.split("/");
  const segments: Segment[] = [];
  const parameters: RouteParameter[] = [];
  rawSegments.forEach((raw, index) => {
    if (raw === "") throw new HostConfigError(`route '${template}': empty segment`);
    const parts = parseSegment(raw, template);
    const params = parts.flatMap((p) => (p.kind === "param" ? [p.param] : []));
    for (const p of params) {
      if (parameters.some((q) => q.name.toLowerCase() === p.name.toLowerCase())) {
        throw new HostConfigError(`route '${template}': parameter '${p.name}' appears twice`);
      }
      parameters.push(p);
      if (p.catchAll && (index !== rawSegments.length - 1 || parts.length !== 1)) {
        throw new HostConfigError(`route '${template}': a catch-all parameter must be the whole last segment`);
      }
    }
    const segment: Segment = { parts };
    if (parts.length > 1) {
      // Greedy groups reproduce ASP.NET's right-to-left matching of complex segments.
      let source = "";
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i]!;
        const next = parts[i + 1];
        if (p.kind === "literal" && next?.kind === "param" && next.param.optional && i + 1 === parts.length - 1) {
          source += `(?:${escapeRegex(p.text)}(.+))?`; // `{name}.{ext?}`
          i++;
        } else if (p.kind === "literal") {
          source += escapeRegex(p.text);
        } else {
          source += "(.+)";
        }
      }
      segment.regex = new RegExp(`^${source}$`, "i");
    }
    segments.push(segment);
  });
  return { template, segments, parameters };
}

/** Decodes one path segment; `%2F` stays encoded as ASP.NET Core leaves it. */
function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/%2F/gi, "%252F"));
  } catch {
    return raw;
  }
}

function checkConstraints(p: RouteParameter, value: string): boolean {
  return p.constraints.every((c) => c.test(value));
}

/** Path segments of a request path (below the route prefix), raw (not decoded). */
export function splitPath(pathname: string): string[] {
  const trimmed = pathname.replace(/^\/+/, "").replace(/\/$/, "");
  return trimmed === "" ? [] : trimmed.split("/");
}

/** Matches raw request path segments; returns the route values, or undefined. */
export function matchRoute(route: RouteTemplate, rawSegments: string[]): Record<string, string> | undefined {
  const values: Record<string, string> = {};
  for (let i = 0; i < route.segments.length; i++) {
    const segment = route.segments[i]!;
    const single = segment.parts.length === 1 ? segment.parts[0]! : undefined;
    if (single?.kind === "param" && single.param.catchAll) {
      const rest = rawSegments.slice(i).map(decodeSegment).join("/");
      const p = single.param;
      if (rest === "") {
        if (p.defaultValue !== undefined) values[p.name] = p.defaultValue;
      } else {
        if (!checkConstraints(p, rest)) return undefined;
        values[p.name] = rest;
      }
      return values;
    }
    const raw = rawSegments[i];
    if (raw === undefined) {
      if (single?.kind === "param" && (single.param.optional || single.param.defaultValue !== undefined)) {
        if (single.param.defaultValue !== undefined) values[single.param.name] = single.param.defaultValue;
        continue;
      }
      return undefined;
    }
    const decoded = decodeSegment(raw);
    if (single?.kind === "literal") {
      if (decoded.toLowerCase() !== single.text.toLowerCase()) return undefined;
    } else if (single?.kind === "param") {
      if (decoded === "" || !checkConstraints(single.param, decoded)) return undefined;
      values[single.param.name] = decoded;
    } else if (segment.regex) {
      const m = segment.regex.exec(decoded);
      if (!m) return undefined;
      const params = segment.parts.flatMap((p) => (p.kind === "param" ? [p.param] : []));
      for (let k = 0; k < params.length; k++) {
        const p = params[k]!;
        const v = m[k + 1];
        if (v === undefined || v === "") {
          if (!p.optional && p.defaultValue === undefined) return undefined;
          if (p.defaultValue !== undefined) values[p.name] = p.defaultValue;
          continue;
        }
        if (!checkConstraints(p, v)) return undefined;
        values[p.name] = v;
      }
    }
  }
  return rawSegments.length > route.segments.length ? undefined : values;
}

/**
 * The order the Functions host tries routes in: its functions sorted by name (ordinal, ignoring
 * case: FunctionMetadataManager), each route added to one ASP.NET `RouteCollection`, where the
 * first route whose template and method match wins - no ASP.NET Core precedence between
 * functions (azure-functions-host#9876). Two routes that overlap are decided by their names.
 */
export function compareFunctionNames(a: string, b: string): number {
  const x = a.toUpperCase();
  const y = b.toUpperCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The host refuses a function whose route is another's (same template ignoring case and slashes)
 * with a method in common, or either taking every method (ScriptHost.HttpRoutesConflict).
 */
export function routesConflict(a: { route: string; methods: ReadonlySet<string> | undefined }, b: { route: string; methods: ReadonlySet<string> | undefined }): boolean {
  const norm = (r: string) => r.replace(/^\/+|\/+$/g, "").toLowerCase();
  if (norm(a.route) !== norm(b.route)) return false;
  if (!a.methods || !b.methods) return true;
  return [...a.methods].some((m) => b.methods?.has(m));
}
