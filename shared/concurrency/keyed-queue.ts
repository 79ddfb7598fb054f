/**
 * Runs tasks one after the other per key, within this process (a task runs whether the one before
 * it succeeded or failed). Used where concurrent work would only collide: events for the same
 * user and app racing each other to Graph (auto-claim).
 * Other processes are kept apart by the documents themselves (conditional writes).
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(task, task);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
