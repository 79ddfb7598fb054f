/**
 * Where a sync's wall time goes: each request to a dependency is recorded as an interval, and the
 * union of a category's intervals is the time spent waiting on it (parallel requests count once).
 * Off unless enabled (the benchmark enables it); recording is a push of two numbers.
 */
export type MeterCategory = "graph" | "dataverse" | "powerPlatform" | "cosmos";

interface Interval {
  start: number;
  end: number;
}

class Meter {
  enabled = false;
  private readonly intervals = new Map<MeterCategory, Interval[]>();
  private readonly counts = new Map<MeterCategory, number>();
  private cosmosCpuMicros = 0;

  record(category: MeterCategory, start: number, end: number): void {
    if (!this.enabled) return;
    let list = this.intervals.get(category);
    if (!list) this.intervals.set(category, (list = []));
    list.push({ start, end });
    this.counts.set(category, (this.counts.get(category) ?? 0) + 1);
  }

  /**
   * Times one awaited call. For Cosmos it also measures the CPU this process spends while Cosmos
   * calls are in flight (counted once when several overlap): an upper bound of the SDK's share.
   */
  async time<T>(category: MeterCategory, fn: () => Promise<T>): Promise<T> {
    if (!this.enabled) return fn();
    const start = performance.now();
    const cosmos = category === "cosmos";
    if (cosmos && this.cosmosInFlight++ === 0) this.cosmosCpuStart = process.cpuUsage();
    try {
      return await fn();
    } finally {
      if (cosmos && --this.cosmosInFlight === 0 && this.cosmosCpuStart) {
        const used = process.cpuUsage(this.cosmosCpuStart);
        this.cosmosCpuMicros += used.user + used.system;
      }
      this.record(category, start, performance.now());
    }
  }

  private cosmosInFlight = 0;
  private cosmosCpuStart: NodeJS.CpuUsage | undefined;

  private readonly sections = new Map<string, number>();

  /** CPU (µs) of a labelled part of the work (the benchmark runs one job at a time, so parts never overlap). */
  async cpu<T>(label: string, fn: () => Promise<T>): Promise<T> {
    if (!this.enabled) return fn();
    const start = process.cpuUsage();
    try {
      return await fn();
    } finally {
      const used = process.cpuUsage(start);
      this.sections.set(label, (this.sections.get(label) ?? 0) + used.user + used.system);
    }
  }

  sectionCpu(label: string): number {
    return this.sections.get(label) ?? 0;
  }

  reset(): void {
    this.intervals.clear();
    this.counts.clear();
    this.sections.clear();
    this.cosmosCpuMicros = 0;
  }

  /** Milliseconds of wall time covered by a category's requests. */
  busyMs(category: MeterCategory): number {
    const list = [...(this.intervals.get(category) ?? [])].sort((a, b) => a.start - b.start);
    let total = 0;
    let curStart = -Infinity;
    let curEnd = -Infinity;
    for (const i of list) {
      if (i.start > curEnd) {
        if (curEnd > curStart) total += curEnd - curStart;
        curStart = i.start;
        curEnd = i.end;
      } else if (i.end > curEnd) curEnd = i.end;
    }
    if (curEnd > curStart) total += curEnd - curStart;
    return total;
  }

  count(category: MeterCategory): number {
    return this.counts.get(category) ?? 0;
  }

  /** CPU (µs) spent while Cosmos calls were in flight: an upper bound of the SDK's share. */
  cosmosCpu(): number {
    return this.cosmosCpuMicros;
  }
}

export const meter = new Meter();
