import { z } from "zod";

export const healthSchema = z.object({
  status: z.enum(["ok", "unhealthy"]),
  checks: z.record(z.string(), z.object({ status: z.enum(["ok", "failed"]), ms: z.number(), error: z.string().optional() })),
  failed: z.array(z.string()),
});
export type Health = z.infer<typeof healthSchema>;

export type DependencyCheck = () => Promise<unknown>;

/** Runs every dependency check in parallel, each bounded by `timeoutMs`, and names the failed ones. */
export async function checkHealth(checks: Record<string, DependencyCheck>, timeoutMs = 3000): Promise<Health> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
        ]);
        return [name, { status: "ok" as const, ms: Date.now() - started }] as const;
      } catch (err) {
        const error = err instanceof Error ? err.message.split("\n")[0] : String(err);
        return [name, { status: "failed" as const, ms: Date.now() - started, error }] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const failed = entries.filter(([, r]) => r.status === "failed").map(([n]) => n);
  return { status: failed.length ? "unhealthy" : "ok", checks: Object.fromEntries(entries) as Health["checks"], failed };
}
