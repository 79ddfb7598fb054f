/**
 * Deterministic identifiers and randomness for the simulated cloud: the demo tenant and the
 * large benchmark tenant are built from these, so two runs with the same seed are identical.
 */

/** mulberry32: a tiny, fast, seedable PRNG (good enough for test data and fault injection). */
export function createPrng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 32-bit FNV-1a hash of a string. */
export function hash32(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** murmur3's 32-bit finalizer: a bijection with good avalanche (so consecutive inputs look unrelated). */
function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

/**
 * A stable version-4-shaped GUID derived from a namespace and a number, e.g. guidFor("user", 42).
 * Distinct (namespace, n) pairs give distinct GUIDs for all practical purposes.
 */
export function guidFor(namespace: string, n: number): string {
  const base = hash32(namespace);
  const a = fmix32(hash32(`${n}`, base));
  const b = fmix32(hash32(`${n}:b`, base ^ 0x9e3779b9));
  const c = fmix32(hash32(`${n}:c`, base ^ 0x85ebca6b));
  // Bijective in n, so distinct numbers of one namespace never collide.
  const d = fmix32(((n >>> 0) + hash32(namespace, 0x27d4eb2f)) >>> 0);
  const h = hex8(a) + hex8(b) + hex8(c) + hex8(d);
  // Array.join yields one flat string (template literals of slices keep ropes alive: costly for 100,000 ids).
  return [h.slice(0, 8), h.slice(8, 12), `4${h.slice(13, 16)}`, ((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16) + h.slice(17, 20), h.slice(20, 32)].join("-");
}

export const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: unknown): value is string {
  return typeof value === "string" && GUID_RE.test(value);
}
