import type { HttpResponseInit } from "@azure/functions";
import { ZodError } from "zod";
import { AppError, ERROR_KINDS, PROBLEM_TYPE_BASE, type FieldError } from "../errors/app-error.js";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

/** At most this many field errors, and unknown keys named, in one answer (a body of 200,000 unknown keys is not echoed back). */
export const MAX_FIELD_ERRORS = 50;
const MAX_KEYS_NAMED = 20;

export function zodIssuesToFieldErrors(error: ZodError, prefix = ""): FieldError[] {
  const errors = error.issues.slice(0, MAX_FIELD_ERRORS).map((i) => {
    const path = [prefix, ...i.path.map(String)].filter(Boolean).join(".");
    if (i.code !== "unrecognized_keys" || i.keys.length <= MAX_KEYS_NAMED) return { path, message: i.message };
    const named = i.keys.slice(0, MAX_KEYS_NAMED).map((k) => JSON.stringify(k)).join(", ");
    return { path, message: `Unrecognized keys: ${named} and ${i.keys.length - MAX_KEYS_NAMED} more` };
  });
  const more = error.issues.length - MAX_FIELD_ERRORS;
  if (more > 0) errors.push({ path: prefix, message: `and ${more} more problems of the same request` });
  return errors;
}

interface Logger {
  error(...args: unknown[]): void;
}

/** The one place that turns any thrown value into a problem+json response (RFC 9457). */
export function toProblemResponse(err: unknown, log?: Logger): HttpResponseInit {
  const appError =
    err instanceof AppError
      ? err
      : err instanceof ZodError
        ? new AppError("validation", "The request does not match its schema.", { errors: zodIssuesToFieldErrors(err) })
        : undefined;
  if (!appError) {
    log?.error("Unhandled error", err);
    return problemResponse(new AppError("internal", "An unexpected error occurred. It has been logged."));
  }
  if (appError.kind === "internal") log?.error("Internal error", appError.cause ?? appError);
  return problemResponse(appError);
}

function problemResponse(e: AppError): HttpResponseInit {
  const body: ProblemDocument = {
    ...e.extensions,
    type: `${PROBLEM_TYPE_BASE}${e.code}`,
    title: ERROR_KINDS[e.kind].title,
    status: e.status,
    detail: e.message,
  };
  if (e.errors) body.errors = e.errors;
  const headers: Record<string, string> = { "Content-Type": PROBLEM_CONTENT_TYPE };
  if (e.retryAfterSeconds !== undefined) headers["Retry-After"] = String(Math.max(1, Math.ceil(e.retryAfterSeconds)));
  if (e.kind === "unauthorized") headers["WWW-Authenticate"] = e.noCredentials ? "Bearer" : 'Bearer error="invalid_token"';
  return { status: e.status, headers, body: JSON.stringify(body) };
}
