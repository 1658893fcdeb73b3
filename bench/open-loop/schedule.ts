/**
 * The open-loop send schedule: request i of a run at `rate` requests per second is due at
 * i / rate seconds after the start, whatever happened to earlier requests. Pure functions, so the
 * generator's timing can be checked without a clock.
 */

/** When request `index` (0-based) is due, ms after the start of the run. */
export function intendedSendMs (index: number, rate: number): number {
  return (index * 1000) / rate
}

/** How many requests a run of `total` requests at `rate` has due by `elapsedMs` (those with an intended time ≤ elapsedMs). */
export function dueBy (elapsedMs: number, rate: number, total: number): number {
  if (!(elapsedMs >= 0)) return 0
  // A small tolerance, so that 1000 × 3 / 1000 is not lost to floating point.
  return Math.min(total, Math.floor((elapsedMs * rate) / 1000 + 1e-9) + 1)
}

/** Requests in a run of `durationSeconds` at `rate` per second. */
export function requestCount (rate: number, durationSeconds: number): number {
  return Math.round(rate * durationSeconds)
}

/** ms from `elapsedMs` until request `next` is due (0 when it is already due). */
export function waitMs (next: number, rate: number, elapsedMs: number): number {
  return Math.max(0, intendedSendMs(next, rate) - elapsedMs)
}
