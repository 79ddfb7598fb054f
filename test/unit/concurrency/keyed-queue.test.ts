import { describe, expect, it, vi } from "vitest";
import { KeyedQueue } from "../../../shared/concurrency/keyed-queue.js";

/** A task that records when it starts and finishes, and finishes when told. */
function gated(log: string[], name: string) {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  return {
    task: async () => {
      log.push(`${name} start`);
      await gate;
      log.push(`${name} end`);
      return name;
    },
    open: () => open(),
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("KeyedQueue.runAll", () => {
  it("when tasks share some of their keys, then each waits for every earlier task of any of its keys, and a task with other keys runs at once", async () => {
    const q = new KeyedQueue();
    const log: string[] = [];
    const a = gated(log, "a");
    const b = gated(log, "b");
    const c = gated(log, "c");
    const d = gated(log, "d");
    const done = [q.runAll(["x", "y"], a.task), q.runAll(["y", "z"], b.task), q.runAll(["z"], c.task), q.runAll(["w", "w"], d.task)];
    await settle();
    expect(log).toEqual(["a start", "d start"]);
    a.open();
    await settle();
    expect(log).toEqual(["a start", "d start", "a end", "b start"]);
    b.open();
    await settle();
    expect(log.slice(-2)).toEqual(["b end", "c start"]);
    c.open();
    d.open();
    expect(await Promise.all(done)).toEqual(["a", "b", "c", "d"]);
  });

  it("when a task fails, then the next task of its keys still runs, and the failure is its caller's", async () => {
    const q = new KeyedQueue();
    const failed = q.runAll(["x", "y"], () => Promise.reject(new Error("boom")));
    const next = q.runAll(["y"], () => Promise.resolve("ran"));
    await expect(failed).rejects.toThrow("boom");
    expect(await next).toBe("ran");
  });

  it("when a task waits longer than its bound for an earlier one, then it does not run and its caller gets the timeout's error; the next task still waits for the earlier one", async () => {
    vi.useFakeTimers();
    try {
      const q = new KeyedQueue();
      const log: string[] = [];
      const first = gated(log, "first");
      const running = q.runAll(["u"], first.task);
      const bounded = q.runAll(["u"], () => Promise.resolve("never"), { maxWaitMs: 1000, onTimeout: () => new Error("busy") });
      const after = q.runAll(["u"], () => Promise.resolve(log.push("after ran")));
      await vi.advanceTimersByTimeAsync(1000);
      await expect(bounded).rejects.toThrow("busy");
      expect(log).toEqual(["first start"]); // "after" still waits for "first"
      first.open();
      await running;
      await after;
      expect(log).toEqual(["first start", "first end", "after ran"]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("when nothing of its keys is queued, then a bounded task runs at once (no timer)", async () => {
    const q = new KeyedQueue();
    expect(await q.runAll(["v"], () => Promise.resolve("now"), { maxWaitMs: 1 })).toBe("now");
  });
});
