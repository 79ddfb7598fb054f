/**
 * Runs tasks one after the other per key, within this process (a task runs whether the one before
 * it succeeded or failed). Used where concurrent work would only collide: events for the same
 * user and app racing each other to Graph (auto-claim), license changes of the same user (L3).
 * Other processes are kept apart by the documents themselves (conditional writes).
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    return this.runAll([key], task);
  }

  /**
   * Runs `task` once every earlier task of any of `keys` is done. A task takes all its keys at
   * once, when asked for (not one by one as they come free), so tasks sharing keys run in the
   * order they were asked for and none waits on another that waits on it.
   */
  runAll<T>(keys: readonly string[], task: () => Promise<T>, options: { maxWaitMs?: number; onTimeout?: () => Error } = {}): Promise<T> {
    const unique = [...new Set(keys)];
    // Tails never reject: `previous` settles when every earlier task of these keys is done (at once when none is queued).
    const previous = Promise.all(unique.map((key) => this.tails.get(key) ?? Promise.resolve()));
    let next: Promise<T>;
    let tail: Promise<unknown>;
    if (options.maxWaitMs === undefined || !unique.some((key) => this.tails.has(key))) {
      next = previous.then(task);
      tail = next.catch(() => undefined);
    } else {
      // Waited too long: the task does not run (its caller gets onTimeout's error), and the tasks
      // after it still wait for the ones before it.
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(options.onTimeout?.() ?? new Error("waited too long for the tasks before")), options.maxWaitMs);
      });
      next = Promise.race([previous, timedOut]).then(() => {
        clearTimeout(timer);
        return task();
      });
      void previous.then(() => clearTimeout(timer));
      tail = Promise.all([previous, next.catch(() => undefined)]);
    }
    for (const key of unique) this.tails.set(key, tail);
    void tail.then(() => {
      for (const key of unique) if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
