/**
 * Sliding-window budget over one-second buckets: the sum of what was spent in the last
 * `windowSeconds` must stay within `limit`. Cheap (a ring of counters) and deterministic.
 */
export class SlidingWindow {
  private readonly buckets: number[];
  private readonly bucketStarts: number[];
  private total = 0;

  constructor(private readonly windowSeconds: number) {
    const n = Math.max(1, Math.ceil(windowSeconds));
    this.buckets = new Array<number>(n).fill(0);
    this.bucketStarts = new Array<number>(n).fill(-1);
  }

  private expire(nowSec: number): void {
    const n = this.buckets.length;
    for (let i = 0; i < n; i++) {
      const start = this.bucketStarts[i] ?? -1;
      if (start >= 0 && start <= nowSec - n) {
        this.total -= this.buckets[i] ?? 0;
        this.buckets[i] = 0;
        this.bucketStarts[i] = -1;
      }
    }
  }

  used(nowMs: number): number {
    this.expire(Math.floor(nowMs / 1000));
    return this.total;
  }

  add(nowMs: number, amount: number): void {
    const sec = Math.floor(nowMs / 1000);
    this.expire(sec);
    const i = sec % this.buckets.length;
    if (this.bucketStarts[i] !== sec) {
      this.total -= this.buckets[i] ?? 0;
      this.buckets[i] = 0;
      this.bucketStarts[i] = sec;
    }
    this.buckets[i] = (this.buckets[i] ?? 0) + amount;
    this.total += amount;
  }

  /** Seconds until `amount` more fits under `limit` (at least 1). */
  retryAfterSeconds(nowMs: number, amount: number, limit: number): number {
    const sec = Math.floor(nowMs / 1000);
    this.expire(sec);
    const n = this.buckets.length;
    const entries: Array<[number, number]> = [];
    for (let i = 0; i < n; i++) {
      const start = this.bucketStarts[i] ?? -1;
      if (start >= 0) entries.push([start, this.buckets[i] ?? 0]);
    }
    entries.sort((a, b) => a[0] - b[0]);
    let remaining = this.total;
    for (const [start, value] of entries) {
      remaining -= value;
      if (remaining + amount <= limit) return Math.max(1, start + n - sec);
    }
    return Math.max(1, Math.ceil(this.windowSeconds));
  }

  /** Spends `amount` if it fits; otherwise returns the Retry-After in seconds. */
  tryConsume(nowMs: number, amount: number, limit: number): { ok: true } | { ok: false; retryAfterSeconds: number } {
    if (this.used(nowMs) + amount > limit) return { ok: false, retryAfterSeconds: this.retryAfterSeconds(nowMs, amount, limit) };
    this.add(nowMs, amount);
    return { ok: true };
  }
}

/** One sliding window per key (caller), created on demand. */
export class KeyedWindows {
  private readonly windows = new Map<string, SlidingWindow>();

  constructor(private readonly windowSeconds: number) {}

  get(key: string): SlidingWindow {
    let w = this.windows.get(key);
    if (!w) {
      w = new SlidingWindow(this.windowSeconds);
      this.windows.set(key, w);
    }
    return w;
  }
}
