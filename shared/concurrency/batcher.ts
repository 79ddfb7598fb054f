/**
 * Group commit: items that arrive for the same key within `lingerMs` - or while the previous
 * batches are still running - are sent together, at most `maxItems` per batch and `maxInFlight`
 * batches per key at a time. Under load batches fill up by themselves; when quiet an item waits at
 * most `lingerMs`. Used for the claim processor's Graph `$batch`es (key: the tenant), its
 * reservations (one transactional batch per product), grouped Cosmos writes (one bulk request per
 * container: claims and event outcomes, new sign-in events) and audit runs (one transactional
 * batch per tenant's chain).
 *
 * `send` answers one result per item, in order; an item that failed on its own while the others
 * of its batch went through answers an `ItemFailure`, and only its caller's promise is rejected.
 * A `send` that throws rejects the whole batch.
 */
export class ItemFailure {
  constructor(readonly error: unknown) {}
}

export interface BatcherOptions<I> {
  maxItems: number;
  lingerMs: number;
  maxInFlight: number;
  /** Two items that may not travel in one batch (e.g. the same user twice). */
  clash?: (a: I, b: I) => boolean;
}

interface Waiting<I, R> {
  item: I;
  resolve(result: R): void;
  reject(err: unknown): void;
}

interface Lane<I, R> {
  waiting: Waiting<I, R>[];
  inFlight: number;
  timer?: NodeJS.Timeout;
}

export class Batcher<I, R> {
  private readonly lanes = new Map<string, Lane<I, R>>();

  constructor(
    private readonly send: (key: string, items: I[]) => Promise<(R | ItemFailure)[]>,
    private readonly options: BatcherOptions<I>,
  ) {}

  submit(key: string, item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let lane = this.lanes.get(key);
      if (!lane) {
        lane = { waiting: [], inFlight: 0 };
        this.lanes.set(key, lane);
      }
      lane.waiting.push({ item, resolve, reject });
      this.schedule(key, lane);
    });
  }

  private schedule(key: string, lane: Lane<I, R>): void {
    if (lane.inFlight >= this.options.maxInFlight || lane.waiting.length === 0) return;
    if (lane.waiting.length >= this.options.maxItems) {
      this.flush(key, lane);
      return;
    }
    lane.timer ??= setTimeout(() => {
      lane.timer = undefined;
      this.flush(key, lane);
    }, this.options.lingerMs);
  }

  private flush(key: string, lane: Lane<I, R>): void {
    if (lane.timer) {
      clearTimeout(lane.timer);
      lane.timer = undefined;
    }
    if (lane.inFlight >= this.options.maxInFlight || lane.waiting.length === 0) return;
    const batch: Waiting<I, R>[] = [];
    const rest: Waiting<I, R>[] = [];
    for (const w of lane.waiting) {
      const clashes = this.options.clash && batch.some((b) => this.options.clash?.(b.item, w.item));
      if (batch.length < this.options.maxItems && !clashes) batch.push(w);
      else rest.push(w);
    }
    lane.waiting = rest;
    lane.inFlight++;
    void this.run(key, batch).finally(() => {
      lane.inFlight--;
      if (lane.waiting.length === 0 && lane.inFlight === 0) this.lanes.delete(key);
      // Whatever arrived meanwhile has waited long enough: send it now.
      else this.flush(key, lane);
    });
    this.schedule(key, lane);
  }

  private async run(key: string, batch: Waiting<I, R>[]): Promise<void> {
    try {
      const results = await this.send(key, batch.map((w) => w.item));
      batch.forEach((w, i) => {
        const r = results[i];
        if (i >= results.length) w.reject(new Error("The batch returned no result for an item."));
        else if (r instanceof ItemFailure) w.reject(r.error);
        else w.resolve(r as R);
      });
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  }
}
