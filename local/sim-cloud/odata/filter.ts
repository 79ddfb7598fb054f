/**
 * A small OData $filter parser and evaluator, shared by the Graph and Dataverse simulations.
 * Supports: eq ne gt ge lt le, and or not, parentheses, `in (...)`, startswith/endswith/contains,
 * `collection/any(x: x/prop eq ...)`, and literals: 'string', numbers, true/false/null, bare GUIDs
 * and bare ISO date-times.
 */

export type FilterNode =
  | { type: "or" | "and"; left: FilterNode; right: FilterNode }
  | { type: "not"; operand: FilterNode }
  | { type: "cmp"; op: "eq" | "ne" | "gt" | "ge" | "lt" | "le"; left: ValueNode; right: ValueNode }
  | { type: "in"; left: ValueNode; values: ValueNode[] }
  | { type: "func"; name: "startswith" | "endswith" | "contains"; args: ValueNode[] }
  | { type: "any"; path: string[]; variable: string; predicate: FilterNode | null }
  | { type: "value"; value: ValueNode };

export type ValueNode =
  | { type: "literal"; value: string | number | boolean | null; kind: "string" | "number" | "bool" | "null" | "guid" | "datetime" }
  | { type: "path"; path: string[] }
  | { type: "call"; name: "tolower" | "toupper"; arg: ValueNode };

export class FilterSyntaxError extends Error {}

interface Token {
  kind: "lparen" | "rparen" | "comma" | "colon" | "slash" | "string" | "number" | "guid" | "datetime" | "ident";
  text: string;
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/;
const DATETIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?/;
const NUMBER = /^-?\d+(\.\d+)?/;
const IDENT = /^[A-Za-z_$@][A-Za-z0-9_.$@]*/;

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const ch = input[i] ?? "";
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const single: Record<string, Token["kind"]> = { "(": "lparen", ")": "rparen", ",": "comma", ":": "colon", "/": "slash" };
    const singleKind = single[ch];
    if (singleKind) {
      tokens.push({ kind: singleKind, text: ch });
      i++;
      continue;
    }
    if (ch === "'") {
      let value = "";
      i++;
      for (;;) {
        if (i >= input.length) throw new FilterSyntaxError("Unterminated string literal");
        const c = input[i] ?? "";
        if (c === "'") {
          if (input[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += c;
        i++;
      }
      tokens.push({ kind: "string", text: value });
      continue;
    }
    const rest = input.slice(i);
    const guid = GUID.exec(rest);
    if (guid && !/[0-9A-Za-z_-]/.test(rest[36] ?? "")) {
      tokens.push({ kind: "guid", text: guid[0] });
      i += 36;
      continue;
    }
    const dt = DATETIME.exec(rest);
    if (dt && dt[0].length >= 10 && /^\d{4}-/.test(rest)) {
      tokens.push({ kind: "datetime", text: dt[0] });
      i += dt[0].length;
      continue;
    }
    const num = NUMBER.exec(rest);
    if (num) {
      tokens.push({ kind: "number", text: num[0] });
      i += num[0].length;
      continue;
    }
    const ident = IDENT.exec(rest);
    if (ident) {
      tokens.push({ kind: "ident", text: ident[0] });
      i += ident[0].length;
      continue;
    }
    throw new FilterSyntaxError(`Syntax error at position ${i} in '${input}'.`);
  }
  return tokens;
}

const CMP_OPS = new Set(["eq", "ne", "gt", "ge", "lt", "le"]);

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[], private readonly source: string) {}

  parse(): FilterNode {
    const node = this.parseOr();
    if (this.pos < this.tokens.length) this.fail(`unexpected '${this.peek()?.text ?? ""}'`);
    return node;
  }

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.pos + offset];
  }

  private next(): Token {
    const t = this.tokens[this.pos++];
    if (!t) return this.fail("unexpected end of expression");
    return t;
  }

  private fail(msg: string): never {
    throw new FilterSyntaxError(`Invalid filter clause: ${msg} in '${this.source}'.`);
  }

  private expect(kind: Token["kind"]): Token {
    const t = this.next();
    if (t.kind !== kind) this.fail(`expected ${kind} but found '${t.text}'`);
    return t;
  }

  private isKeyword(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t?.kind === "ident" && t.text.toLowerCase() === word;
  }

  private parseOr(): FilterNode {
    let left = this.parseAnd();
    while (this.isKeyword("or")) {
      this.pos++;
      left = { type: "or", left, right: this.parseAnd() };
    }
    return left;
  }

  private parseAnd(): FilterNode {
    let left = this.parseNot();
    while (this.isKeyword("and")) {
      this.pos++;
      left = { type: "and", left, right: this.parseNot() };
    }
    return left;
  }

  private parseNot(): FilterNode {
    if (this.isKeyword("not")) {
      this.pos++;
      return { type: "not", operand: this.parseNot() };
    }
    return this.parseComparison();
  }

  private parseComparison(): FilterNode {
    if (this.peek()?.kind === "lparen") {
      // Either a parenthesised boolean expression or a parenthesised value; try boolean first.
      this.pos++;
      const inner = this.parseOr();
      this.expect("rparen");
      return inner;
    }
    const fn = this.peek();
    if (fn?.kind === "ident" && this.peek(1)?.kind === "lparen") {
      const name = fn.text.toLowerCase();
      if (name === "startswith" || name === "endswith" || name === "contains") {
        this.pos += 2;
        const args = [this.parseValue()];
        this.expect("comma");
        args.push(this.parseValue());
        this.expect("rparen");
        const node: FilterNode = { type: "func", name, args };
        return this.maybeCompareBool(node);
      }
    }
    const left = this.parseValue();
    if (left.type === "path" && this.peek()?.kind === "slash" && this.isAnyAhead()) {
      return this.parseAny(left.path);
    }
    const opTok = this.peek();
    if (opTok?.kind === "ident" && CMP_OPS.has(opTok.text.toLowerCase())) {
      this.pos++;
      const right = this.parseValue();
      return { type: "cmp", op: opTok.text.toLowerCase() as "eq", left, right };
    }
    if (opTok?.kind === "ident" && opTok.text.toLowerCase() === "in") {
      this.pos++;
      this.expect("lparen");
      const values = [this.parseValue()];
      while (this.peek()?.kind === "comma") {
        this.pos++;
        values.push(this.parseValue());
      }
      this.expect("rparen");
      return { type: "in", left, values };
    }
    return { type: "value", value: left };
  }

  private maybeCompareBool(node: FilterNode): FilterNode {
    const opTok = this.peek();
    if (opTok?.kind === "ident" && (opTok.text === "eq" || opTok.text === "ne")) {
      this.pos++;
      const right = this.parseValue();
      if (right.type !== "literal" || right.kind !== "bool") this.fail("functions compare only with true or false");
      const wantTrue = (right.value === true) === (opTok.text === "eq");
      return wantTrue ? node : { type: "not", operand: node };
    }
    return node;
  }

  private isAnyAhead(): boolean {
    const t = this.peek(1);
    return t?.kind === "ident" && (t.text.toLowerCase() === "any" || t.text.toLowerCase() === "all");
  }

  private parseAny(path: string[]): FilterNode {
    this.expect("slash");
    const fn = this.next();
    if (fn.text.toLowerCase() !== "any") this.fail("only any() lambdas are supported");
    this.expect("lparen");
    if (this.peek()?.kind === "rparen") {
      this.pos++;
      return { type: "any", path, variable: "", predicate: null };
    }
    const variable = this.expect("ident").text;
    this.expect("colon");
    const predicate = this.parseOr();
    this.expect("rparen");
    return { type: "any", path, variable, predicate };
  }

  private parseValue(): ValueNode {
    const t = this.next();
    switch (t.kind) {
      case "string":
        return { type: "literal", value: t.text, kind: "string" };
      case "number":
        return { type: "literal", value: Number(t.text), kind: "number" };
      case "guid":
        return { type: "literal", value: t.text.toLowerCase(), kind: "guid" };
      case "datetime":
        return { type: "literal", value: t.text, kind: "datetime" };
      case "ident": {
        const lower = t.text.toLowerCase();
        if (lower === "true" || lower === "false") return { type: "literal", value: lower === "true", kind: "bool" };
        if (lower === "null") return { type: "literal", value: null, kind: "null" };
        if ((lower === "tolower" || lower === "toupper") && this.peek()?.kind === "lparen") {
          this.pos++;
          const arg = this.parseValue();
          this.expect("rparen");
          return { type: "call", name: lower, arg };
        }
        const path = [t.text];
        while (this.peek()?.kind === "slash" && this.peek(1)?.kind === "ident" && !this.isAnyAhead()) {
          this.pos++;
          path.push(this.next().text);
        }
        return { type: "path", path };
      }
      default:
        return this.fail(`unexpected '${t.text}'`);
    }
  }
}

export function parseFilter(input: string): FilterNode {
  const tokens = tokenize(input);
  if (!tokens.length) throw new FilterSyntaxError("Empty filter clause.");
  return new Parser(tokens, input).parse();
}

/** Top-level property names (first path segments outside lambdas) a filter refers to. */
export function filterProperties(node: FilterNode): string[] {
  const out = new Set<string>();
  const visitValue = (v: ValueNode, lambdaVars: Set<string>) => {
    if (v.type === "path" && !lambdaVars.has(v.path[0] ?? "")) out.add(v.path[0] ?? "");
    if (v.type === "call") visitValue(v.arg, lambdaVars);
  };
  const visit = (n: FilterNode, vars: Set<string>) => {
    switch (n.type) {
      case "or":
      case "and":
        visit(n.left, vars);
        visit(n.right, vars);
        break;
      case "not":
        visit(n.operand, vars);
        break;
      case "cmp":
        visitValue(n.left, vars);
        visitValue(n.right, vars);
        break;
      case "in":
        visitValue(n.left, vars);
        n.values.forEach((v) => visitValue(v, vars));
        break;
      case "func":
        n.args.forEach((a) => visitValue(a, vars));
        break;
      case "any":
        out.add(n.path[0] ?? "");
        if (n.predicate) visit(n.predicate, new Set([...vars, n.variable]));
        break;
      case "value":
        visitValue(n.value, vars);
        break;
    }
  };
  visit(node, new Set());
  return [...out];
}

export type Resolver = (path: string[]) => unknown;

type Scalar = string | number | boolean | null | undefined;

function evalValue(v: ValueNode, resolve: Resolver, scope: Map<string, unknown>): unknown {
  switch (v.type) {
    case "literal":
      return v.value;
    case "call": {
      const inner = evalValue(v.arg, resolve, scope);
      if (typeof inner !== "string") return inner;
      return v.name === "tolower" ? inner.toLowerCase() : inner.toUpperCase();
    }
    case "path": {
      const [head, ...rest] = v.path;
      if (head !== undefined && scope.has(head)) {
        let cur: unknown = scope.get(head);
        for (const seg of rest) cur = cur && typeof cur === "object" ? (cur as Record<string, unknown>)[seg] : undefined;
        return cur;
      }
      return resolve(v.path);
    }
  }
}

function norm(v: unknown): Scalar {
  if (typeof v === "string") return v.toLowerCase();
  if (typeof v === "number" || typeof v === "boolean" || v === null || v === undefined) return v;
  return JSON.stringify(v);
}

function compare(op: string, a: unknown, b: unknown): boolean {
  const isDate = (x: unknown) => typeof x === "string" && /^\d{4}-\d{2}-\d{2}/.test(x);
  if (isDate(a) && isDate(b)) {
    const da = Date.parse(String(a));
    const db = Date.parse(String(b));
    return cmpNumbers(op, da, db);
  }
  const na = norm(a);
  const nb = norm(b);
  if (op === "eq") return (na ?? null) === (nb ?? null);
  if (op === "ne") return (na ?? null) !== (nb ?? null);
  if (na === null || na === undefined || nb === null || nb === undefined) return false;
  if (typeof na === "number" && typeof nb === "number") return cmpNumbers(op, na, nb);
  const sa = String(na);
  const sb = String(nb);
  return cmpNumbers(op, sa < sb ? -1 : sa > sb ? 1 : 0, 0);
}

function cmpNumbers(op: string, a: number, b: number): boolean {
  switch (op) {
    case "gt": return a > b;
    case "ge": return a >= b;
    case "lt": return a < b;
    case "le": return a <= b;
    case "eq": return a === b;
    default: return a !== b;
  }
}

export function evaluateFilter(node: FilterNode, resolve: Resolver, scope: Map<string, unknown> = new Map()): boolean {
  switch (node.type) {
    case "or":
      return evaluateFilter(node.left, resolve, scope) || evaluateFilter(node.right, resolve, scope);
    case "and":
      return evaluateFilter(node.left, resolve, scope) && evaluateFilter(node.right, resolve, scope);
    case "not":
      return !evaluateFilter(node.operand, resolve, scope);
    case "cmp":
      return compare(node.op, evalValue(node.left, resolve, scope), evalValue(node.right, resolve, scope));
    case "in": {
      const left = norm(evalValue(node.left, resolve, scope));
      return node.values.some((v) => norm(evalValue(v, resolve, scope)) === left);
    }
    case "func": {
      const [a, b] = node.args.map((arg) => evalValue(arg, resolve, scope));
      if (typeof a !== "string" || typeof b !== "string") return false;
      const x = a.toLowerCase();
      const y = b.toLowerCase();
      return node.name === "startswith" ? x.startsWith(y) : node.name === "endswith" ? x.endsWith(y) : x.includes(y);
    }
    case "any": {
      const collection = resolve(node.path);
      if (!Array.isArray(collection)) return false;
      if (!node.predicate) return collection.length > 0;
      const predicate = node.predicate;
      return collection.some((item) => evaluateFilter(predicate, resolve, new Map([...scope, [node.variable, item]])));
    }
    case "value":
      return evalValue(node.value, resolve, scope) === true;
  }
}

/**
 * Values a filter pins `property` to (e.g. `azureactivedirectoryobjectid eq <guid>`), so the
 * caller can take candidates from an index and then evaluate the whole filter on them.
 */
export function equalityOn(node: FilterNode, property: string): string[] | null {
  if (node.type === "cmp" && node.op === "eq" && node.left.type === "path" && node.left.path.length === 1
    && node.left.path[0]?.toLowerCase() === property && node.right.type === "literal" && typeof node.right.value === "string") {
    return [node.right.value.toLowerCase()];
  }
  if (node.type === "in" && node.left.type === "path" && node.left.path[0]?.toLowerCase() === property) {
    const out: string[] = [];
    for (const v of node.values) if (v.type === "literal" && typeof v.value === "string") out.push(v.value.toLowerCase());
    return out.length === node.values.length ? out : null;
  }
  if (node.type === "or") {
    const a = equalityOn(node.left, property);
    const b = equalityOn(node.right, property);
    return a && b ? [...a, ...b] : null;
  }
  if (node.type === "and") {
    // Candidates from either side; the caller still evaluates the whole filter on them.
    return equalityOn(node.left, property) ?? equalityOn(node.right, property);
  }
  return null;
}
