import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it, vi } from "vitest";
import { READ_LAG_MS, type RecentWrite } from "../../../shared/licenses/recent-writes.js";
import { LEASE_MS, lockId, UserChangeLocks } from "../../../shared/licenses/user-locks.js";
import { createItem, readItem } from "../../../shared/storage/repository.js";
import { useLocalCosmos } from "../../support/cosmos.js";

/**
 * L3 across instances: the per-user locks of license changes, in the `leases` container of the
 * local Cosmos server. Each UserChangeLocks stands for one instance of the app.
 */
const cosmos = useLocalCosmos();
const leases = () => cosmos.database.container("leases");
const tenant = "5f1c6e2a-7d3b-4c8e-9a41-2b6d0e8f3c17";
const users = (n: number) => Array.from({ length: n }, () => randomUUID());
const lockOf = (userId: string) => readItem<{ until: string; holder: string; written?: RecentWrite; ttl?: number }>(leases(), lockId(tenant, userId), lockId(tenant, userId));
const write = (at = Date.now()): RecentWrite => ({ at: new Date(at).toISOString(), before: [{}], after: { "sku-1": [] } });
const soon = (ms = 300) => Date.now() + ms;

describe("license change locks across instances", () => {
  it("when one instance holds a user, then another instance's change of that user waits until it is released, and then takes it", async () => {
    const [a, b] = [new UserChangeLocks(leases()), new UserChangeLocks(leases())];
    const [u1, u2, u3] = users(3) as [string, string, string];
    const held = await a.acquire(tenant, [u1, u2], soon());
    let taken = false;
    const waiting = b.acquire(tenant, [u2, u3], soon(20_000)).then((r) => {
      taken = true;
      return r;
    });
    await sleep(200);
    expect(taken).toBe(false);
    await held.release();
    const heldB = await waiting;
    expect(await lockOf(u1)).toBeUndefined();
    // Held: an item TTL beyond the lease and the read lag (an item a dead instance leaves goes away once no change can need it).
    expect((await lockOf(u2))?.ttl).toBe((LEASE_MS + READ_LAG_MS) / 1000);
    await heldB.release();
    expect(await lockOf(u2)).toBeUndefined();
    expect(await lockOf(u3)).toBeUndefined();
  });

  it("when the other holder does not let go before the deadline, then 503 with Retry-After, and the change keeps none of its users' locks", async () => {
    const [a, b] = [new UserChangeLocks(leases()), new UserChangeLocks(leases())];
    const [u1, u2] = users(2) as [string, string];
    const held = await a.acquire(tenant, [u1], soon());
    await expect(b.acquire(tenant, [u2, u1], soon(200))).rejects.toMatchObject({ kind: "unavailable", retryAfterSeconds: 5 });
    // All or none: u2 was free, but is not kept while u1 is held elsewhere (no deadlock with a change taking them in another order).
    expect(await lockOf(u2)).toBeUndefined();
    await held.release();
  });

  it("when one user is changed alone, then its lock is taken and given back with point writes; several users' with one bulk request each way", async () => {
    const container = leases();
    const locks = new UserChangeLocks(container);
    const bulk = vi.spyOn(container.items, "bulk");
    const [u1] = users(1) as [string];
    await (await locks.acquire(tenant, [u1], soon())).release();
    expect(bulk).not.toHaveBeenCalled();
    const many = users(20);
    const held = await locks.acquire(tenant, many, soon());
    expect(bulk).toHaveBeenCalledTimes(1);
    expect((await Promise.all(many.map(lockOf))).every((l) => l !== undefined)).toBe(true);
    await held.release();
    expect(bulk).toHaveBeenCalledTimes(2);
    expect((await Promise.all(many.map(lockOf))).every((l) => l === undefined)).toBe(true);
    bulk.mockRestore();
  });

  it("when a bulk change names 250 users, then their locks are taken and given back in requests of at most 100 operations", async () => {
    const container = leases();
    const bulk = vi.spyOn(container.items, "bulk");
    const many = users(250);
    const held = await new UserChangeLocks(container).acquire(tenant, many, soon(5_000));
    expect((await Promise.all(many.map(lockOf))).every((l) => l !== undefined)).toBe(true);
    await held.release();
    expect((await Promise.all(many.map(lockOf))).every((l) => l === undefined)).toBe(true);
    expect(bulk.mock.calls.map(([ops]) => ops.length)).toEqual([100, 100, 50, 100, 100, 50]);
    bulk.mockRestore();
  });

  it("when Cosmos fails while a busy lock is looked at, then the change fails and keeps none of the locks it had taken", async () => {
    const container = leases();
    const [u1, u2] = users(2) as [string, string];
    const heldOther = await new UserChangeLocks(leases()).acquire(tenant, [u2], soon());
    const item = container.item.bind(container);
    vi.spyOn(container, "item").mockImplementation((id, pk) =>
      id === lockId(tenant, u2) ? ({ patch: () => Promise.reject(Object.assign(new Error("Service unavailable"), { code: 503 })) } as unknown as ReturnType<typeof item>) : item(id, pk));
    await expect(new UserChangeLocks(container).acquire(tenant, [u1, u2], soon())).rejects.toMatchObject({ kind: "unavailable" });
    expect(await lockOf(u1)).toBeUndefined();
    await heldOther.release();
  });

  it("when one bulk request of a large change fails as a whole, then the change fails and the locks the other request took are given back", async () => {
    const container = leases();
    const bulk = container.items.bulk.bind(container.items);
    let calls = 0;
    vi.spyOn(container.items, "bulk").mockImplementation((ops, options) => (++calls === 2 ? Promise.reject(Object.assign(new Error("Service unavailable"), { code: 503 })) : bulk(ops, options)));
    const many = users(150);
    await expect(new UserChangeLocks(container).acquire(tenant, many, soon())).rejects.toMatchObject({ kind: "unavailable" });
    expect((await Promise.all(many.map(lockOf))).filter((l) => l !== undefined)).toEqual([]);
  });

  it("when a lock's time has passed (its instance died holding it), then it is taken over at once", async () => {
    const [u1] = users(1) as [string];
    const id = lockId(tenant, u1);
    await createItem(leases(), { id, type: "license-change-lock", until: new Date(Date.now() - 1000).toISOString(), holder: "dead" });
    const held = await new UserChangeLocks(leases()).acquire(tenant, [u1], soon(50));
    expect((await lockOf(u1))?.holder).not.toBe("dead");
    await held.release();
  });

  it("when a lock has not run out, then it is not taken over", async () => {
    const [u1] = users(1) as [string];
    const id = lockId(tenant, u1);
    await createItem(leases(), { id, type: "license-change-lock", until: new Date(Date.now() + LEASE_MS).toISOString(), holder: "alive" });
    await expect(new UserChangeLocks(leases()).acquire(tenant, [u1], soon(100))).rejects.toMatchObject({ kind: "unavailable" });
    expect((await lockOf(u1))?.holder).toBe("alive");
  });

  it("when a change runs longer than a lease, then its locks are renewed while it runs", async () => {
    const locks = new UserChangeLocks(leases(), { leaseMs: 900 });
    const [u1] = users(1) as [string];
    const held = await locks.acquire(tenant, [u1], soon());
    const first = (await lockOf(u1))!.until;
    await vi.waitFor(async () => expect(Date.parse((await lockOf(u1))!.until)).toBeGreaterThan(Date.parse(first)), { timeout: 10_000, interval: 100 });
    await held.release();
    expect(await lockOf(u1)).toBeUndefined();
  });

  it("when a change gives back a user's lock with what it wrote, then the item stays (expired, with a TTL) and the next change of that user - on another instance - gets the write", async () => {
    const [a, b] = [new UserChangeLocks(leases()), new UserChangeLocks(leases())];
    const [u1, u2] = users(2) as [string, string];
    const w = write();
    await (await a.acquire(tenant, [u1, u2], soon())).release(new Map([[u1, w]]));
    const kept = await lockOf(u1);
    expect(kept).toMatchObject({ written: w, ttl: READ_LAG_MS / 1000 });
    expect(Date.parse(kept!.until)).toBeLessThanOrEqual(Date.now());
    expect(await lockOf(u2)).toBeUndefined();
    // Taken at once (its time has passed), with the write.
    const held = await b.acquire(tenant, [u1.toUpperCase()], soon(100));
    expect([...held.recent]).toEqual([[u1, w]]);
    // A change that wrote nothing keeps the earlier write for the one after it; point and bulk alike.
    await held.release();
    expect((await lockOf(u1))?.written).toEqual(w);
    const both = await a.acquire(tenant, [u1, u2], soon(100));
    expect([...both.recent]).toEqual([[u1, w]]);
    await both.release();
    expect((await lockOf(u1))?.written).toEqual(w);
  });

  it("when the write a lock kept is older than Graph's read lag, then the next change does not get it and the item is deleted when given back", async () => {
    const [u1] = users(1) as [string];
    const locks = new UserChangeLocks(leases());
    await (await locks.acquire(tenant, [u1], soon())).release(new Map([[u1, write(Date.now() - READ_LAG_MS - 1_000)]]));
    // An old write is not kept at all.
    expect(await lockOf(u1)).toBeUndefined();
    const id = lockId(tenant, u1);
    await createItem(leases(), { id, type: "license-change-lock", until: new Date(0).toISOString(), holder: "x", written: write(Date.now() - READ_LAG_MS - 1_000) });
    const held = await locks.acquire(tenant, [u1], soon(100));
    expect(held.recent.size).toBe(0);
    await held.release();
    expect(await lockOf(u1)).toBeUndefined();
  });

  it("when 20 users' locks were given back with their writes, then the next change takes them over in two bulk requests (the creates, then one conditional patch each) and gets every write", async () => {
    const container = leases();
    const many = users(20);
    const locks = new UserChangeLocks(container);
    const w = write();
    await (await locks.acquire(tenant, many, soon())).release(new Map(many.map((u) => [u, w])));
    const bulk = vi.spyOn(container.items, "bulk");
    const point = vi.spyOn(container, "item");
    const held = await new UserChangeLocks(container).acquire(tenant, many, soon(2_000));
    expect(bulk.mock.calls.map(([ops]) => [...new Set(ops.map((o) => o.operationType))])).toEqual([["Create"], ["Patch"]]);
    expect(point).not.toHaveBeenCalled();
    expect(held.recent.size).toBe(20);
    await held.release();
    bulk.mockRestore();
    point.mockRestore();
  });

  it("when a dry run asks for its users' recent writes, then they are read (one bulk request for several) without taking or changing any lock", async () => {
    const container = leases();
    const [u1, u2, u3] = users(3) as [string, string, string];
    const w = write();
    await (await new UserChangeLocks(container).acquire(tenant, [u1, u2], soon())).release(new Map([[u1, w]]));
    const before = await lockOf(u1);
    const bulk = vi.spyOn(container.items, "bulk");
    const recent = await new UserChangeLocks(container).recentWrites(tenant, [u1, u2, u3]);
    expect([...recent]).toEqual([[u1, w]]);
    expect(bulk.mock.calls.map(([ops]) => ops.map((o) => o.operationType))).toEqual([["Read", "Read", "Read"]]);
    expect((await lockOf(u1))?.until).toBe(before?.until);
    expect([...(await new UserChangeLocks(container).recentWrites(tenant, [u1]))]).toEqual([[u1, w]]);
    bulk.mockRestore();
  });
});
