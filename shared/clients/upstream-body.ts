import type { z } from "zod";
import { AppError } from "../errors/app-error.js";

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
