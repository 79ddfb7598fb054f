/**
 * Timer schedules as the Functions timer extension reads them: a 6-field NCRONTAB expression
 * (`{second} {minute} {hour} {day} {month} {day-of-week}`), or else a TimeSpan (`hh:mm:ss`)
 * constant interval. Occurrences are computed with croner, after validating the expression
 * against NCRONTAB's grammar (croner alone would accept 5 fields, `L`, `W`, `#`, `?`, weekday 7).
 */
import { Cron } from "croner";
import { HostConfigError, parseTimeSpan } from "./config.js";

export interface TimerSchedule {
  kind: "cron" | "constant";
  expression: string;
  /** The next occurrence strictly after `after`. */
  next(after: Date): Date;
  /** TimerInfo.Schedule.AdjustForDST as the extension reports it. */
  adjustForDST: boolean;
  /** For constant (TimeSpan) schedules: the interval. */
  intervalMs?: number;
}

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
}

const FIELDS: FieldSpec[] = [
  { name: "Seconds", min: 0, max: 59 },
  { name: "Minutes", min: 0, max: 59 },
  { name: "Hours", min: 0, max: 23 },
  { name: "Days", min: 1, max: 31 },
  {
    name: "Months", min: 1, max: 12,
    names: ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"],
  },
  { name: "DaysOfWeek", min: 0, max: 6, names: ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"] },
];

function fieldError(field: FieldSpec, token: string, why: string): HostConfigError {
  return new HostConfigError(`'${token}' is not a valid [${field.name}] crontab field expression: ${why}`);
}

/** NCRONTAB value: a number, or (months, days of week) a case-insensitive prefix of an English name. */
function parseValue(field: FieldSpec, text: string, token: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n < field.min || n > field.max) throw fieldError(field, token, `${n} is outside ${field.min}-${field.max}`);
    return n;
  }
  const lower = text.toLowerCase();
  const index = field.names && lower ? field.names.findIndex((n) => n.startsWith(lower)) : -1;
  if (index < 0) throw fieldError(field, token, `'${text}' is not a number${field.names ? " or a known name" : ""}`);
  return index + field.min;
}

/** Validates one field and rewrites it with numbers only (names resolved). */
function normaliseField(field: FieldSpec, token: string): string {
  return token.split(",").map((part) => {
    if (part === "") throw fieldError(field, token, "empty list element");
    let body = part;
    let step: string | undefined;
    const slash = part.indexOf("/");
    if (slash >= 0) {
      body = part.slice(0, slash);
      step = part.slice(slash + 1);
      if (!/^\d+$/.test(step) || Number(step) === 0) throw fieldError(field, token, `bad step '${step}'`);
    }
    let normalised: string;
    if (body === "*") {
      normalised = "*";
    } else if (body.includes("-")) {
      const [a, b, extra] = body.split("-");
      if (a === undefined || b === undefined || extra !== undefined) throw fieldError(field, token, `bad range '${body}'`);
      const from = parseValue(field, a, token);
      const to = parseValue(field, b, token);
      if (from > to) throw fieldError(field, token, `range '${body}' runs backwards`);
      normalised = `${from}-${to}`;
    } else {
      const value = parseValue(field, body, token);
      // NCRONTAB: `5/10` means from 5 to the maximum, every 10.
      normalised = step === undefined ? String(value) : `${value}-${field.max}`;
    }
    return step === undefined ? normalised : `${normalised}/${step}`;
  }).join(",");
}

/** Validates an NCRONTAB expression (6 fields) and returns it with names resolved to numbers. */
export function normaliseNcrontab(expression: string): string {
  const tokens = expression.trim().split(/\s+/).filter(Boolean);
  if (tokens.length !== 6) {
    throw new HostConfigError(
      `'${expression}' is an invalid crontab expression. It must contain 6 components of a schedule in the sequence of seconds, minutes, hours, days, months, and days of week`,
    );
  }
  return tokens.map((t, i) => normaliseField(FIELDS[i]!, t)).join(" ");
}

export interface ScheduleOptions {
  /** IANA time zone; by default the process's local time zone (`TZ`), like the host's DateTime.Now. */
  timezone?: string;
}

/** Parses a schedule like `TimerSchedule.Create`: NCRONTAB first, then a TimeSpan. */
export function parseSchedule(expression: string, options: ScheduleOptions = {}): TimerSchedule {
  let cronError: Error;
  try {
    const normalised = normaliseNcrontab(expression);
    const cron = new Cron(normalised, {
      paused: true,
      mode: "6-part",
      domAndDow: true, // NCRONTAB requires both the day of month and the day of week to match
      ...(options.timezone ? { timezone: options.timezone } : {}),
    });
    return {
      kind: "cron",
      expression,
      adjustForDST: true,
      next(after: Date): Date {
        const next = cron.nextRun(after);
        if (!next) throw new HostConfigError(`schedule '${expression}' has no next occurrence`);
        return next;
      },
    };
  } catch (err) {
    cronError = err as Error;
  }
  if (/^\s*-?(\d+\.)?\d{1,2}:\d{1,2}(:\d{1,2}(\.\d+)?)?\s*$/.test(expression)) {
    const intervalMs = parseTimeSpan(expression, "schedule");
    if (intervalMs <= 0) throw new HostConfigError(`schedule '${expression}': a TimeSpan schedule must be positive`);
    return { kind: "constant", expression, adjustForDST: false, intervalMs, next: (after) => new Date(after.getTime() + intervalMs) };
  }
  throw new HostConfigError(
    `The schedule expression '${expression}' was not recognized as a valid cron expression or timespan string. ${cronError.message}`,
  );
}

/**
 * The extension's default for `useMonitor`: off when more than one occurrence falls in the next
 * minute (sub-minute schedules), on otherwise.
 */
export function defaultUseMonitor(schedule: TimerSchedule, now = new Date()): boolean {
  if (schedule.intervalMs !== undefined) return schedule.intervalMs >= 60_000;
  const end = now.getTime() + 60_000;
  let count = 0;
  let t = now;
  while (count < 2) {
    t = schedule.next(t);
    if (t.getTime() >= end) break;
    count++;
  }
  return count <= 1;
}
