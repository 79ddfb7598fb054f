/**
 * A small reader of Bicep source, enough for the infra-in-step test (no Bicep compiler is available
 * here). It tokenizes the whole language (strings with interpolation, multi-line strings, comments)
 * and parses values: object and array literals, strings, calls, conditionals (`a ? b : c`); any other
 * expression is kept as opaque tokens with the literals found inside it. Unknown syntax is not an
 * error as long as brackets balance, so the reader never guesses silently: a check that needs a value
 * it cannot see fails with a message naming it.
 */

export interface Token {
  kind: "string" | "ident" | "number" | "punct" | "newline";
  /** Source text of the token (for strings: with quotes). */
  text: string;
  /** Strings: the content without quotes (interpolations kept as `${...}`). */
  value?: string;
  interpolated?: boolean;
  line: number;
}

export type BicepValue =
  | { kind: "string"; value: string; interpolated: boolean; text: string }
  | { kind: "object"; entries: BicepEntry[]; text: string }
  | { kind: "array"; items: BicepValue[]; text: string }
  | { kind: "call"; name: string; args: BicepValue[]; text: string }
  | { kind: "conditional"; condition: BicepValue; whenTrue: BicepValue; whenFalse: BicepValue; text: string }
  /** Anything else (identifiers, member access, operators): its tokens and the values nested in it. */
  | { kind: "expression"; items: (Token | BicepValue)[]; text: string };

export interface BicepEntry {
  key: string;
  value: BicepValue;
  line: number;
}

export class BicepSyntaxError extends Error {}

const MULTI_CHAR_PUNCT = ["??", "==", "!=", "&&", "||", "<=", ">=", ".?", "=~", "!~"];

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const at = (k: number) => source[i + k] ?? "";
  while (i < source.length) {
    const c = at(0);
    if (c === "\n") {
      tokens.push({ kind: "newline", text: "\n", line });
      line++;
      i++;
    } else if (c === " " || c === "\t" || c === "\r") {
      i++;
    } else if (c === "/" && at(1) === "/") {
      while (i < source.length && at(0) !== "\n") i++;
    } else if (c === "/" && at(1) === "*") {
      const end = source.indexOf("*/", i + 2);
      if (end < 0) throw new BicepSyntaxError(`Unterminated comment at line ${line}.`);
      line += countNewlines(source.slice(i, end));
      i = end + 2;
    } else if (source.startsWith("'''", i)) {
      const end = source.indexOf("'''", i + 3);
      if (end < 0) throw new BicepSyntaxError(`Unterminated multi-line string at line ${line}.`);
      const value = source.slice(i + 3, end).replace(/^\r?\n/, "");
      tokens.push({ kind: "string", text: source.slice(i, end + 3), value, interpolated: false, line });
      line += countNewlines(source.slice(i, end));
      i = end + 3;
    } else if (c === "'") {
      const end = endOfString(source, i);
      const text = source.slice(i, end);
      const { value, interpolated } = unquote(text);
      tokens.push({ kind: "string", text, value, interpolated, line });
      line += countNewlines(text);
      i = end;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i, i + 256))!;
      tokens.push({ kind: "ident", text: m[0], line });
      i += m[0].length;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+/.exec(source.slice(i, i + 64))!;
      tokens.push({ kind: "number", text: m[0], line });
      i += m[0].length;
    } else {
      const two = source.slice(i, i + 2);
      const text = MULTI_CHAR_PUNCT.includes(two) ? two : c;
      tokens.push({ kind: "punct", text, line });
      i += text.length;
    }
  }
  return tokens;
}

function countNewlines(s: string): number {
  return s.split("\n").length - 1;
}

/** Index just past the closing quote of the string starting at `start`, following `${...}` nesting. */
function endOfString(source: string, start: number): number {
  let i = start + 1;
  while (i < source.length) {
    const c = source[i];
    if (c === "\\") {
      i += 2;
    } else if (c === "'") {
      return i + 1;
    } else if (c === "$" && source[i + 1] === "{") {
      i = endOfInterpolation(source, i + 2);
    } else {
      i++;
    }
  }
  throw new BicepSyntaxError(`Unterminated string starting at offset ${start}.`);
}

function endOfInterpolation(source: string, start: number): number {
  let depth = 1;
  let i = start;
  while (i < source.length) {
    const c = source[i];
    if (c === "'") {
      i = endOfString(source, i);
      continue;
    }
    if (c === "{") depth++;
    if (c === "}" && --depth === 0) return i + 1;
    i++;
  }
  throw new BicepSyntaxError(`Unterminated interpolation at offset ${start}.`);
}

function unquote(text: string): { value: string; interpolated: boolean } {
  let value = "";
  let interpolated = false;
  let i = 1;
  while (i < text.length - 1) {
    const c = text[i]!;
    if (c === "\\") {
      const next = text[i + 1] ?? "";
      value += ({ n: "\n", r: "\r", t: "\t" } as Record<string, string>)[next] ?? next;
      i += 2;
    } else if (c === "$" && text[i + 1] === "{") {
      const end = endOfInterpolation(text, i + 2);
      value += text.slice(i, end);
      interpolated = true;
      i = end;
    } else {
      value += c;
      i++;
    }
  }
  return { value, interpolated };
}

type Context = "statement" | "object" | "array" | "paren";

const CLOSERS: Record<string, string> = { "{": "}", "[": "]", "(": ")" };
/** A line starting with one of these continues the expression of the line before. */
const CONTINUATION = new Set(["?", ":", "??", "&&", "||", "==", "!=", "."]);

class Parser {
  constructor(
    private readonly tokens: Token[],
    public pos = 0,
  ) {}

  peek(offset = 0): Token | undefined {
    return this.tokens[this.pos + offset];
  }

  skipNewlines(): void {
    while (this.peek()?.kind === "newline") this.pos++;
  }

  /** Parses one value in `context`, stopping before the separator or closer that ends it. */
  parseValue(context: Context): BicepValue {
    const items: (Token | BicepValue)[] = [];
    for (;;) {
      const t = this.peek();
      if (!t) break;
      if (t.kind === "newline") {
        if (context === "paren") {
          this.pos++;
          continue;
        }
        const next = this.nextNonNewline();
        if (items.length > 0 && next?.kind === "punct" && CONTINUATION.has(next.text)) {
          this.skipNewlines();
          continue;
        }
        break;
      }
      if (t.kind === "punct") {
        if (t.text === "," || t.text === "}" || t.text === "]" || t.text === ")") break;
        if (t.text === "{") {
          items.push(this.parseObject());
          continue;
        }
        if (t.text === "[") {
          items.push(this.parseArray());
          continue;
        }
        if (t.text === "(") {
          items.push(this.parseParenGroup());
          continue;
        }
      }
      items.push(t);
      this.pos++;
    }
    if (items.length === 0) throw new BicepSyntaxError(`Expected a value at line ${this.peek()?.line ?? "end"}.`);
    return build(items);
  }

  private nextNonNewline(): Token | undefined {
    let k = this.pos;
    while (this.tokens[k]?.kind === "newline") k++;
    return this.tokens[k];
  }

  private expect(text: string): Token {
    const t = this.peek();
    if (!t || t.text !== text) throw new BicepSyntaxError(`Expected "${text}" at line ${t?.line ?? "end"}, found ${t ? JSON.stringify(t.text) : "the end"}.`);
    this.pos++;
    return t;
  }

  parseObject(): BicepValue {
    const start = this.expect("{");
    const entries: BicepEntry[] = [];
    for (;;) {
      this.skipSeparators();
      const t = this.peek();
      if (!t) throw new BicepSyntaxError(`Unclosed object from line ${start.line}.`);
      if (t.text === "}") break;
      if (t.kind === "punct" && t.text === "@") {
        this.skipDecorator();
        continue;
      }
      if (t.kind !== "ident" && t.kind !== "string") throw new BicepSyntaxError(`Expected a property name at line ${t.line}, found ${JSON.stringify(t.text)}.`);
      this.pos++;
      this.expect(":");
      const value = this.parseValue("object");
      entries.push({ key: t.kind === "string" ? t.value! : t.text, value, line: t.line });
    }
    this.expect("}");
    return { kind: "object", entries, text: `{${entries.map((e) => `${e.key}: ${e.value.text}`).join(", ")}}` };
  }

  parseArray(): BicepValue {
    const start = this.expect("[");
    const items: BicepValue[] = [];
    for (;;) {
      this.skipSeparators();
      const t = this.peek();
      if (!t) throw new BicepSyntaxError(`Unclosed array from line ${start.line}.`);
      if (t.text === "]") break;
      items.push(this.parseValue("array"));
    }
    this.expect("]");
    return { kind: "array", items, text: `[${items.map((v) => v.text).join(", ")}]` };
  }

  /** `( a, b )`: an expression of the arguments (a call when an identifier precedes it). */
  parseParenGroup(): BicepValue {
    const start = this.expect("(");
    const args: BicepValue[] = [];
    for (;;) {
      this.skipNewlines();
      const t = this.peek();
      if (!t) throw new BicepSyntaxError(`Unclosed "(" from line ${start.line}.`);
      if (t.text === ")") break;
      args.push(this.parseValue("paren"));
      this.skipNewlines();
      if (this.peek()?.text === ",") this.pos++;
    }
    this.expect(")");
    return { kind: "call", name: "", args, text: `(${args.map((a) => a.text).join(", ")})` };
  }

  private skipSeparators(): void {
    while (this.peek()?.kind === "newline" || this.peek()?.text === ",") this.pos++;
  }

  /** `@name(...)` before a property, parameter or resource. */
  skipDecorator(): void {
    this.expect("@");
    while (this.peek()?.kind === "ident" || this.peek()?.text === ".") this.pos++;
    if (this.peek()?.text === "(") this.parseParenGroup();
  }

  /** Skips a balanced bracket group or a single token. */
  skipOne(): void {
    const t = this.peek();
    if (t?.kind === "punct" && CLOSERS[t.text]) {
      if (t.text === "{") this.parseObject();
      else if (t.text === "[") this.parseArray();
      else this.parseParenGroup();
    } else {
      this.pos++;
    }
  }
}

function isToken(item: Token | BicepValue): item is Token {
  return "line" in item;
}

function build(raw: (Token | BicepValue)[]): BicepValue {
  // An identifier directly followed by a parenthesised group is a call.
  const items: (Token | BicepValue)[] = [];
  for (const item of raw) {
    const prev = items[items.length - 1];
    if (!isToken(item) && item.kind === "call" && item.name === "" && prev && isToken(prev) && prev.kind === "ident") {
      items[items.length - 1] = { kind: "call", name: prev.text, args: item.args, text: `${prev.text}${item.text}` };
    } else {
      items.push(item);
    }
  }
  const question = items.findIndex((x) => isToken(x) && x.kind === "punct" && x.text === "?");
  if (question > 0) {
    let depth = 0;
    for (let k = question + 1; k < items.length; k++) {
      const x = items[k]!;
      if (!isToken(x) || x.kind !== "punct") continue;
      if (x.text === "?") depth++;
      if (x.text === ":" && depth-- === 0) {
        const condition = build(items.slice(0, question));
        const whenTrue = build(items.slice(question + 1, k));
        const whenFalse = build(items.slice(k + 1));
        return { kind: "conditional", condition, whenTrue, whenFalse, text: `${condition.text} ? ${whenTrue.text} : ${whenFalse.text}` };
      }
    }
  }
  if (items.length === 1) {
    const only = items[0]!;
    if (!isToken(only)) return only;
    if (only.kind === "string") return { kind: "string", value: only.value!, interpolated: only.interpolated!, text: only.text };
  }
  return { kind: "expression", items, text: items.map((x) => x.text).join(" ") };
}

export interface Declaration {
  keyword: "param" | "var" | "resource" | "module" | "output" | "type";
  name: string;
  /** param/output: the type; resource/module: the quoted type or path. */
  type: string | undefined;
  /** Default value (param), value (var, output), body (resource, module). */
  value: BicepValue | undefined;
  line: number;
}

/** The top-level declarations of a Bicep file. */
export function parseBicep(source: string): Declaration[] {
  const tokens = tokenize(source);
  const p = new Parser(tokens);
  const declarations: Declaration[] = [];
  for (;;) {
    p.skipNewlines();
    const t = p.peek();
    if (!t) break;
    if (t.kind === "punct" && t.text === "@") {
      p.skipDecorator();
      continue;
    }
    const keyword = t.text;
    if (t.kind === "ident" && ["param", "var", "resource", "module", "output", "type"].includes(keyword)) {
      p.pos++;
      const name = p.peek()!.text;
      p.pos++;
      let type: string | undefined;
      if (p.peek()?.text !== "=") {
        const typeToken = p.peek();
        type = typeToken?.kind === "string" ? typeToken.value : typeToken?.text;
        // A type may be followed by `[]`, `?` or `existing`; skip up to `=` or the end of the line.
        while (p.peek() && p.peek()!.text !== "=" && p.peek()!.kind !== "newline") p.skipOne();
      }
      let value: BicepValue | undefined;
      if (p.peek()?.text === "=") {
        p.pos++;
        p.skipNewlines();
        value = p.parseValue("statement");
      }
      declarations.push({ keyword: keyword as Declaration["keyword"], name, type, value, line: t.line });
    } else {
      // targetScope, import, metadata, ...: skip the statement.
      while (p.peek() && p.peek()!.kind !== "newline") p.skipOne();
    }
  }
  return declarations;
}

export function declaration(declarations: readonly Declaration[], keyword: Declaration["keyword"], name: string): Declaration | undefined {
  return declarations.find((d) => d.keyword === keyword && d.name === name);
}

/** The body object of a resource or module, whether plain, `if (...) {}` or `[for ...: {}]`. */
export function bodyOf(value: BicepValue | undefined): BicepValue & { kind: "object" } {
  const found = lastObject(value);
  if (!found) throw new BicepSyntaxError(`No object body in ${value?.text ?? "(nothing)"}.`);
  return found;
}

function lastObject(value: BicepValue | undefined): (BicepValue & { kind: "object" }) | undefined {
  if (!value) return undefined;
  if (value.kind === "object") return value;
  if (value.kind === "array") return lastObject(value.items[value.items.length - 1]);
  if (value.kind === "expression") {
    for (let k = value.items.length - 1; k >= 0; k--) {
      const item = value.items[k]!;
      if (!isToken(item)) {
        const found = lastObject(item);
        if (found) return found;
      }
    }
  }
  return undefined;
}

/** Follows `a.b.c` through nested object literals. */
export function get(value: BicepValue | undefined, path: string): BicepValue | undefined {
  let current = value;
  for (const key of path.split(".")) {
    if (current?.kind !== "object") return undefined;
    current = current.entries.find((e) => e.key === key)?.value;
  }
  return current;
}

/** Every `key: value` entry of every object literal in `value` (conditional branches included). */
export function allEntries(value: BicepValue | undefined): BicepEntry[] {
  if (!value) return [];
  switch (value.kind) {
    case "object":
      return value.entries;
    case "array":
      return value.items.flatMap(allEntries);
    case "call":
      return value.args.flatMap(allEntries);
    case "conditional":
      return [...allEntries(value.whenTrue), ...allEntries(value.whenFalse)];
    case "expression":
      return value.items.flatMap((x) => (isToken(x) ? [] : allEntries(x)));
    case "string":
      return [];
  }
}

/** The plain string literals inside a value (e.g. both branches of a conditional). */
export function stringLiterals(value: BicepValue | undefined): string[] {
  if (!value) return [];
  switch (value.kind) {
    case "string":
      return value.interpolated ? [] : [value.value];
    case "object":
      return value.entries.flatMap((e) => stringLiterals(e.value));
    case "array":
      return value.items.flatMap(stringLiterals);
    case "call":
      return value.args.flatMap(stringLiterals);
    case "conditional":
      return [...stringLiterals(value.whenTrue), ...stringLiterals(value.whenFalse)];
    case "expression":
      return value.items.flatMap((x) => (isToken(x) ? (x.kind === "string" && !x.interpolated ? [x.value!] : []) : stringLiterals(x)));
  }
}

/** An identifier on its own (a reference to a param or var), or undefined. */
export function identifierOf(value: BicepValue | undefined): string | undefined {
  if (value?.kind !== "expression" || value.items.length !== 1) return undefined;
  const only = value.items[0]!;
  return isToken(only) && only.kind === "ident" ? only.text : undefined;
}

export { isToken };
