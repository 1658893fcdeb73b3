// The time source balancers read, injected so tests can move time by hand.
import { performance } from 'node:perf_hooks'

/** Monotonic milliseconds. Only differences between readings matter. */
export interface Clock {
  now: () => number
}

/** Wall-independent monotonic clock (`performance.now()`, ms). */
export const systemClock: Clock = { now: () => performance.now() }

/** A clock that moves only when told; for tests. */
export class ManualClock implements Clock {
  private current: number

  constructor (startMs = 0) {
    this.current = startMs
  }

  now (): number {
    return this.current
  }

  /** Moves time forward by `ms`. */
  advance (ms: number): void {
    this.current += ms
  }
}
