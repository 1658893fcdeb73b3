// Deterministic randomness for balancers: a seeded mulberry32 and the `Random` function type.

/** A source of uniform numbers in [0, 1), like `Math.random`. Injected so tests can seed it. */
export type Random = () => number

/**
 * mulberry32: a tiny 32-bit PRNG, good enough for spreading load and jitter (not for secrets).
 * The same seed always yields the same sequence.
 */
export function mulberry32 (seed: number): Random {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** An integer in [0, n). */
export function randomIndex (random: Random, n: number): number {
  return Math.min(n - 1, Math.floor(random() * n))
}
