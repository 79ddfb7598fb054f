/** Request counters per service and per kind of path, so tests and benchmarks can count calls. */

export interface ServiceCounters {
  /** HTTP requests received (a $batch counts once). */
  requests: number;
  /** HTTP requests by kind, e.g. "users.delta", "systemusers.list", "$batch". */
  byKind: Record<string, number>;
  /** Operations inside $batch requests, by kind. */
  batchItemsByKind: Record<string, number>;
  /** Responses by status code (batch items included). */
  byStatus: Record<string, number>;
  /** Dataverse only: requests per environment id. */
  byEnvironment: Record<string, number>;
  /** Answers produced by throttling (rate limits and injected 429s). */
  throttled: number;
  /** Injected faults (429, 503, timeouts). */
  injectedFaults: number;
  /** Requests that carried `x-ms-throttle-priority: low` (D12: background work), and how many did not. */
  throttlePriority: { low: number; other: number };
  /** Milliseconds from receiving each request to writing its answer, summed (added latency included). */
  servedMs: number;
}

export type CounterSnapshot = Record<"graph" | "dataverse" | "bap" | "login" | "admin", ServiceCounters>;

function empty(): ServiceCounters {
  return { requests: 0, byKind: {}, batchItemsByKind: {}, byStatus: {}, byEnvironment: {}, throttled: 0, injectedFaults: 0, throttlePriority: { low: 0, other: 0 }, servedMs: 0 };
}

const bump = (record: Record<string, number>, key: string) => {
  record[key] = (record[key] ?? 0) + 1;
};

export class Counters {
  private data: CounterSnapshot = { graph: empty(), dataverse: empty(), bap: empty(), login: empty(), admin: empty() };

  request(service: keyof CounterSnapshot, kind: string, environmentId?: string, throttlePriority?: string): void {
    const c = this.data[service];
    c.requests++;
    if (throttlePriority?.trim().toLowerCase() === "low") c.throttlePriority.low++;
    else c.throttlePriority.other++;
    bump(c.byKind, kind);
    if (environmentId) bump(c.byEnvironment, environmentId);
  }

  batchItem(service: keyof CounterSnapshot, kind: string): void {
    bump(this.data[service].batchItemsByKind, kind);
  }

  status(service: keyof CounterSnapshot, status: number): void {
    bump(this.data[service].byStatus, String(status));
    if (status === 429) this.data[service].throttled++;
  }

  served(service: keyof CounterSnapshot, ms: number): void {
    this.data[service].servedMs += ms;
  }

  fault(service: keyof CounterSnapshot): void {
    this.data[service].injectedFaults++;
  }

  snapshot(): CounterSnapshot {
    return structuredClone(this.data);
  }

  reset(): void {
    this.data = { graph: empty(), dataverse: empty(), bap: empty(), login: empty(), admin: empty() };
  }
}
