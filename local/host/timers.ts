/**
 * Timer triggers, following the timer extension's TimerListener: the next occurrence is computed
 * after each run (a run never overlaps itself; an occurrence missed during a long run fires once,
 * at once), `runOnStartup` runs before the first occurrence, and the handler receives the
 * extension's TimerInfo (`scheduleStatus` is null when schedule monitoring is off, which is the
 * default for sub-minute schedules). Schedule status is kept in memory: no past-due detection
 * across restarts.
 */
import type { RegisteredFunction, RpcRetryOptions } from "./core.js";
import { sysMetadata, type Invoker, type InvokeOutcome } from "./invoke.js";
import type { HostLogger } from "./log.js";
import type { OutputWriter } from "./outputs.js";
import type { TimerSchedule } from "./schedule.js";

/** `default(DateTime)` as the extension serialises it. */
const DOTNET_MIN_DATE = "0001-01-01T00:00:00";
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
export const MANUAL_REASON = "This function was programmatically called via the host APIs.";

export interface TimerTarget {
  fn: RegisteredFunction;
  triggerName: string;
  schedule: TimerSchedule;
  runOnStartup: boolean;
  useMonitor: boolean;
}

interface ScheduleStatus {
  last?: Date;
  next: Date;
  lastUpdated?: Date;
}

function durationMs(d: { seconds?: number | bigint | null; nanos?: number | null } | null | undefined): number {
  if (!d) return 0;
  return Number(d.seconds ?? 0) * 1000 + Math.round((d.nanos ?? 0) / 1e6);
}

/** Delay before retry number `attempt` (1-based) under a host retry policy. */
export function retryDelayMs(options: RpcRetryOptions, attempt: number): number {
  if (options.retryStrategy === "fixedDelay") return durationMs(options.delayInterval);
  const min = durationMs(options.minimumInterval);
  const max = durationMs(options.maximumInterval) || Number.MAX_SAFE_INTEGER;
  return Math.min(max, min * 2 ** (attempt - 1));
}

export class TimerListener {
  #status: ScheduleStatus;
  #chain: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #wake: (() => void) | undefined;
  /** Completed invocations (scheduled, on startup or manual), for tests and the listing. */
  runs = 0;
  lastOutcome: InvokeOutcome | undefined;

  constructor(
    readonly target: TimerTarget,
    private readonly deps: { invoker: Invoker; outputs: OutputWriter; logger: HostLogger },
  ) {
    this.#status = { next: target.schedule.next(new Date()) };
  }

  get name(): string {
    return this.target.fn.metadata.name;
  }

  get nextOccurrence(): Date {
    return this.#status.next;
  }

  start(): void {
    const now = new Date();
    this.#status = { next: this.target.schedule.next(now) };
    const upcoming: Date[] = [];
    for (let t = now; upcoming.length < 5; ) upcoming.push((t = this.target.schedule.next(t)));
    this.deps.logger.info(
      `The next 5 occurrences of the '${this.name}' schedule (${this.target.schedule.kind === "cron" ? "Cron" : "Constant"}: '${this.target.schedule.expression}') will be: ${upcoming.map((d) => d.toISOString()).join(", ")}`,
    );
    if (this.target.runOnStartup) {
      void this.#enqueue(() => this.#run(new Date(), "startup")).then(() => this.#arm());
    } else {
      this.#arm();
    }
  }

  /** Runs the function now (as the admin endpoint does), after any run in progress. */
  runNow(): Promise<InvokeOutcome> {
    return this.#enqueue(() => this.#invoke(MANUAL_REASON));
  }

  /** Stops scheduling and waits for the run in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#wake?.();
    await this.#chain.catch(() => undefined);
  }

  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(work, work);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  #arm(): void {
    if (this.#stopped) return;
    const delay = Math.max(1, this.#status.next.getTime() - Date.now());
    this.#timer = setTimeout(() => {
      if (Date.now() < this.#status.next.getTime() - 1) return this.#arm(); // longer than setTimeout's limit
      void this.#enqueue(() => this.#run(new Date(), "schedule")).then(() => this.#arm());
    }, Math.min(delay, MAX_TIMEOUT_MS));
  }

  async #run(invocationTime: Date, why: "schedule" | "startup"): Promise<void> {
    if (this.#stopped) return;
    await this.#invoke(`Timer fired at ${invocationTime.toISOString()}`);
    // Like the extension: a timer that fired a little early counts as the scheduled occurrence.
    const adjusted = why === "schedule" && this.#status.next > invocationTime ? this.#status.next : invocationTime;
    this.#status = { last: adjusted, next: this.target.schedule.next(adjusted), lastUpdated: adjusted };
  }

  #timerInfo(): unknown {
    const s = this.#status;
    return {
      Schedule: { AdjustForDST: this.target.schedule.adjustForDST },
      ScheduleStatus: this.target.useMonitor
        ? {
            Last: s.last ? s.last.toISOString() : DOTNET_MIN_DATE,
            Next: s.next.toISOString(),
            LastUpdated: s.lastUpdated ? s.lastUpdated.toISOString() : DOTNET_MIN_DATE,
          }
        : null,
      IsPastDue: false,
    };
  }

  async #invoke(reason: string): Promise<InvokeOutcome> {
    const { fn, triggerName } = this.target;
    const retry = fn.metadata.retryOptions;
    const maxRetryCount = retry?.maxRetryCount ?? 0;
    let attempt = 0;
    let lastError: unknown;
    for (;;) {
      const retryContext = retry
        ? {
            retryCount: attempt,
            maxRetryCount,
            ...(lastError instanceof Error ? { exception: { message: lastError.message, stackTrace: lastError.stack ?? null, source: lastError.name } } : {}),
          }
        : undefined;
      let outcome = await this.deps.invoker.invoke({
        fn,
        reason,
        inputData: [{ name: triggerName, data: { json: JSON.stringify(this.#timerInfo()) } }],
        triggerMetadata: { sys: sysMetadata(fn.metadata.name) },
        ...(retryContext ? { retryContext } : {}),
      });
      if (outcome.succeeded) {
        try {
          await this.deps.outputs.write(fn, outcome.response);
        } catch (error) {
          this.deps.logger.error(`Function '${fn.metadata.name}': writing output bindings failed: ${String(error)}`);
          outcome = { invocationId: outcome.invocationId, succeeded: false, error, durationMs: outcome.durationMs };
        }
      }
      if (outcome.succeeded || !retry || this.#stopped || (maxRetryCount !== -1 && attempt >= maxRetryCount)) {
        this.runs++;
        this.lastOutcome = outcome;
        return outcome;
      }
      lastError = outcome.error;
      attempt++;
      const delay = retryDelayMs(retry, attempt);
      this.deps.logger.info(`Function '${fn.metadata.name}' failed; retry ${attempt} of ${maxRetryCount === -1 ? "unlimited" : maxRetryCount} in ${delay} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }
}
