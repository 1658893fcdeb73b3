// Power of two choices: draw two distinct candidates (in proportion to weight), keep the cheaper.

/**
 * Cumulative weights for drawing indexes in proportion to weight, O(log n) per draw. Built once
 * per endpoint set, not per pick.
 */
export class WeightedIndex {
  private readonly ends: Float64Array
  readonly total: number

  constructor (weights: readonly number[]) {
    this.ends = new Float64Array(weights.length)
    let sum = 0
    weights.forEach((w, i) => { sum += w; this.ends[i] = sum })
    this.total = sum
  }

  get length (): number {
    return this.ends.length
  }

  /** An index drawn with probability weight / total. */
  draw (random: () => number): number {
    return this.locate(random() * this.total)
  }

  /** An index other than `skip`, drawn with probability weight / (total − weight of skip). */
  drawOther (skip: number, random: () => number): number {
    const start = skip === 0 ? 0 : this.ends[skip - 1] as number
    const width = (this.ends[skip] as number) - start
    let r = random() * (this.total - width)
    if (r >= start) r += width
    const i = this.locate(r)
    return i === skip ? (skip === 0 ? 1 : skip - 1) : i // only by rounding at an edge
  }

  private locate (r: number): number {
    let lo = 0
    let hi = this.ends.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (r < (this.ends[mid] as number)) hi = mid
      else lo = mid + 1
    }
    return lo
  }
}

/**
 * Draws two distinct items, each in proportion to its weight in `index` (equal weights: uniform),
 * and returns the one with the lower cost, the first drawn on a tie (so ties follow the weights).
 * One item is returned as is; none gives undefined.
 * Mitzenmacher, "The Power of Two Choices in Randomized Load Balancing" (2001).
 */
export function powerOfTwoChoices<T> (items: readonly T[], index: WeightedIndex, cost: (item: T) => number, random: () => number): T | undefined {
  const n = items.length
  if (n === 0) return undefined
  if (n === 1) return items[0]
  const a = index.draw(random)
  const b = index.drawOther(a, random)
  const first = items[a] as T
  const second = items[b] as T
  return cost(second) < cost(first) ? second : first
}
