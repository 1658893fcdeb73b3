// Power of two choices: draw two distinct candidates at random, keep the cheaper one.
import { randomIndex, type Random } from './random.js'

/**
 * Picks two distinct items uniformly at random and returns the one with the lower cost (the first
 * drawn on a tie, so ties stay random). One item is returned as is; none gives undefined.
 * Mitzenmacher, "The Power of Two Choices in Randomized Load Balancing" (2001).
 */
export function powerOfTwoChoices<T> (items: readonly T[], cost: (item: T) => number, random: Random): T | undefined {
  const n = items.length
  if (n === 0) return undefined
  if (n === 1) return items[0]
  const a = randomIndex(random, n)
  let b = randomIndex(random, n - 1)
  if (b >= a) b += 1
  const first = items[a] as T
  const second = items[b] as T
  return cost(second) < cost(first) ? second : first
}
