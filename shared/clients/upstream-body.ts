import type { z } from "zod";
import { AppError } from "../errors/app-error.js";
import { TOKEN_REFUSED } from "./credentials.js";

/**
 * A Microsoft answer read against its contract. A body of another shape is Microsoft's failure:
 * a 502 (`upstream`) naming the service and the first fields that did not match - never the
 * caller's 400, which a bare ZodError would become at the HTTP edge, and never silently empty data.
 */
export function parseUpstream<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const fields = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`);
  throw new AppError("upstream", `${what} answered with a body of an unexpected shape (${fields.join("; ")}).`, { cause: parsed.error });
}

/**
 * For queued work (a claim, a sync job): Microsoft's server error (5xx) or an answer of no known
 * shape is worth another try - the next one may well work (the retry resumes from what was done,
 * and gives up visibly after its last attempt). Returned as a transient error; anything else (a
 * refusal, 4xx, a token Entra refuses) as it was.
 */
export function retryableUpstream<E>(error: E): E | AppError {
  if (!(error instanceof AppError) || error.kind !== "upstream" || error.code === TOKEN_REFUSED) return error;
  const status = error.extensions.upstreamStatus;
  if (typeof status === "number" && status < 500) return error;
  return new AppError("unavailable", `${error.message} (retried)`, { retryAfterSeconds: 5, cause: error });
}
