/** Host log lines, printed like `func start` prints them. */
import { writeSync } from "node:fs";

export type HostLogLevel = "trace" | "debug" | "information" | "warning" | "error" | "critical";

export interface HostLogEntry {
  time: Date;
  level: HostLogLevel;
  /** `host`: the local host itself; `user`: context.log & co.; `system`: @azure/functions internals. */
  category: "host" | "user" | "system";
  functionName?: string;
  invocationId?: string;
  message: string;
}

export type HostLogSink = (entry: HostLogEntry) => void;

const RANK: Record<HostLogLevel, number> = { trace: 0, debug: 1, information: 2, warning: 3, error: 4, critical: 5 };

export function levelAtLeast(level: HostLogLevel, min: HostLogLevel): boolean {
  return RANK[level] >= RANK[min];
}

export function formatLogEntry(entry: HostLogEntry): string {
  const prefix = entry.category === "user" && entry.functionName ? `[${entry.functionName}] ` : "";
  const level = entry.level === "warning" ? "warn: " : levelAtLeast(entry.level, "error") ? "error: " : "";
  return `[${entry.time.toISOString()}] ${prefix}${level}${entry.message}`;
}

/**
 * Lines written in one turn of the event loop go out in one write (a busy host logs several lines
 * per invocation, and a write per line cost more CPU than the function itself); whatever is still
 * held is written synchronously when the process exits.
 */
class LineBuffer {
  #lines: string[] = [];
  #scheduled = false;

  constructor(private readonly fd: 1 | 2, private readonly stream: NodeJS.WriteStream) {
    process.once("exit", () => this.#flushSync());
  }

  push(line: string): void {
    this.#lines.push(line);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Writes what is held now (before a line written to the stream directly, to keep the order). */
  flush(): void {
    this.#scheduled = false;
    const text = this.#lines.join("");
    this.#lines = [];
    if (text) this.stream.write(text);
  }

  #flushSync(): void {
    const text = this.#lines.join("");
    this.#lines = [];
    if (!text) return;
    try {
      writeSync(this.fd, text);
    } catch {
      /* stdout closed */
    }
  }
}

let stdoutLines: LineBuffer | undefined;
let stderrLines: LineBuffer | undefined;

/** Writes the log lines still held, so that a line written to stdout or stderr directly comes after them. */
export function flushConsoleLog(): void {
  stdoutLines?.flush();
  stderrLines?.flush();
}

/** Prints to stdout (stderr for warnings and errors); debug and trace only when `verbose`. */
export function consoleLogSink(options: { verbose?: boolean } = {}): HostLogSink {
  const out = (stdoutLines ??= new LineBuffer(1, process.stdout));
  const err = (stderrLines ??= new LineBuffer(2, process.stderr));
  return (entry) => {
    if (!options.verbose && !levelAtLeast(entry.level, "information")) return;
    // System logs from @azure/functions are chatty at information level; func shows them only verbose.
    if (!options.verbose && entry.category === "system" && !levelAtLeast(entry.level, "warning")) return;
    const line = formatLogEntry(entry) + "\n";
    if (levelAtLeast(entry.level, "warning")) err.push(line);
    else out.push(line);
  };
}

export class HostLogger {
  constructor(readonly sink: HostLogSink) {}

  write(level: HostLogLevel, message: string, extra: Partial<Pick<HostLogEntry, "category" | "functionName" | "invocationId">> = {}): void {
    try {
      this.sink({ time: new Date(), level, category: "host", message, ...extra });
    } catch {
      /* a failing sink must not break the host */
    }
  }

  info(message: string, extra?: Partial<HostLogEntry>): void {
    this.write("information", message, extra);
  }

  warn(message: string, extra?: Partial<HostLogEntry>): void {
    this.write("warning", message, extra);
  }

  error(message: string, extra?: Partial<HostLogEntry>): void {
    this.write("error", message, extra);
  }

  debug(message: string, extra?: Partial<HostLogEntry>): void {
    this.write("debug", message, extra);
  }
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  if (typeof err === "string") return err;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === "string" ? err : errorText(err);
}
