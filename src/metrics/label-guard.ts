/**
 * Bounds the distinct values one label may take: the first `max` values seen are kept, every later
 * one is reported as `other`, so a flood of made-up authorities can't grow the series set.
 */

/** The label value that unknown values fold into past the limit. */
export const OVERFLOW_LABEL = 'other'

export class LabelGuard {
  /** Upper bound on distinct values kept. */
  readonly max: number
  private readonly seen = new Set<string>()
  private readonly foldedCell: { value: number }

  /** `folded`, when given, is bumped once per event folded into `other` (a metric series). */
  constructor (max: number, folded: { value: number } = { value: 0 }) {
    if (!Number.isInteger(max) || max < 0) throw new RangeError(`label limit must be an integer ≥ 0, got ${max}`)
    this.max = max
    this.foldedCell = folded
  }

  /** How many events had their value folded into `other`. */
  get folded (): number {
    return this.foldedCell.value
  }

  /** The value to use as the label: `value` itself while under the limit, else `other`. */
  label (value: string): string {
    if (this.seen.has(value)) return value
    if (this.seen.size < this.max) {
      this.seen.add(value)
      return value
    }
    this.foldedCell.value++
    return OVERFLOW_LABEL
  }

  /** Distinct values kept so far. */
  get size (): number {
    return this.seen.size
  }
}
