/**
 * The one error taxonomy of the app. Every failure a caller can see is one of these kinds;
 * `toProblem` (problem.ts) turns any thrown value into an RFC 9457 problem+json response.
 */
export const ERROR_KINDS = {
  validation: { status: 400, title: "The request is not valid" },
  unauthorized: { status: 401, title: "Authentication required" },
  forbidden: { status: 403, title: "Not allowed" },
  notFound: { status: 404, title: "Not found" },
  methodNotAllowed: { status: 405, title: "Method not allowed" },
  conflict: { status: 409, title: "Conflict with the current state" },
  preconditionFailed: { status: 412, title: "The resource changed (stale If-Match)" },
  payloadTooLarge: { status: 413, title: "The request body is too large" },
  unsupportedMediaType: { status: 415, title: "The request body's media type is not accepted" },
  preconditionRequired: { status: 428, title: "If-Match is required" },
  businessRule: { status: 422, title: "A business rule refuses the request" },
  tooManyRequests: { status: 429, title: "Too many requests" },
  upstream: { status: 502, title: "Microsoft answered with an error" },
  unavailable: { status: 503, title: "A dependency is unavailable" },
  internal: { status: 500, title: "Internal error" },
} as const;

export type ErrorKind = keyof typeof ERROR_KINDS;

/** Base URI of the documented problem types (docs/errors.md lists them). */
export const PROBLEM_TYPE_BASE = "https://license-control-plane.dev/problems/";

export interface FieldError {
  path: string;
  message: string;
}

export interface AppErrorOptions {
  /** Machine-readable code, stable across versions (becomes part of `type`). Defaults to the kind. */
  code?: string;
  /** Extra members of the problem document (e.g. skuId, shortBy). */
  extensions?: Record<string, unknown>;
  errors?: FieldError[];
  /** Seconds, for 429/503. */
  retryAfterSeconds?: number;
  /** 401: the request carried no token at all (RFC 6750 section 3.1: the challenge then names no error code). */
  noCredentials?: boolean;
  cause?: unknown;
}

export class AppError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly extensions: Record<string, unknown>;
  readonly errors: FieldError[] | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly noCredentials: boolean;

  constructor(kind: ErrorKind, detail: string, options: AppErrorOptions = {}) {
    super(detail, { cause: options.cause });
    this.name = "AppError";
    this.kind = kind;
    this.code = options.code ?? kebab(kind);
    this.extensions = options.extensions ?? {};
    this.errors = options.errors;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.noCredentials = options.noCredentials ?? false;
  }

  get status(): number {
    return ERROR_KINDS[this.kind].status;
  }

  /** True for failures worth retrying later (throttling, outages). */
  get transient(): boolean {
    return this.kind === "unavailable" || this.kind === "tooManyRequests";
  }
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export const validationError = (detail: string, errors: FieldError[]) =>
  new AppError("validation", detail, { errors });
export const notFound = (what: string) => new AppError("notFound", `${what} was not found.`);
export const conflict = (detail: string, code?: string, extensions?: Record<string, unknown>) =>
  new AppError("conflict", detail, { code, extensions });
export const businessRule = (code: string, detail: string, extensions?: Record<string, unknown>) =>
  new AppError("businessRule", detail, { code, extensions });
export const unavailable = (detail: string, retryAfterSeconds?: number, cause?: unknown) =>
  new AppError("unavailable", detail, { retryAfterSeconds, cause });
export const upstream = (detail: string, extensions?: Record<string, unknown>, cause?: unknown) =>
  new AppError("upstream", detail, { extensions, cause });
