/**
 * Seeded randomness for the fuzz tests: the seed from MESHGATE_FUZZ_SEED (or the test's default),
 * mulberry32, and a generator of the usual draws on it. The same seed gives the same cases, so a
 * failing run can be replayed.
 */

/** MESHGATE_FUZZ_SEED as an unsigned 32-bit number, or `fallback` when unset or empty. */
export function fuzzSeed (fallback: number): number {
  const env = process.env.MESHGATE_FUZZ_SEED
  return (env !== undefined && env !== '' ? Number(env) : fallback) >>> 0
}

/** mulberry32: a small, fast 32-bit PRNG giving numbers in [0, 1). */
export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Draws on a [0, 1) source; fuzz tests extend it with the shapes of their protocol. */
export class SeededGen {
  constructor (readonly next: () => number) {}
  /** An integer in [0, n). */
  int (n: number): number { return Math.floor(this.next() * n) }
  /** An integer in [lo, hi]. */
  range (lo: number, hi: number): number { return lo + this.int(hi - lo + 1) }
  /** True with probability p. */
  chance (p: number): boolean { return this.next() < p }
  pick<T>(items: readonly T[]): T { return items[this.int(items.length)] as T }
}
