/**
 * The retry budget (Linkerd's and Finagle's idea): over any window of `ttlMs`, retries may not
 * exceed `minPerSecond · ttl` plus `ratio` of the requests (first tries) seen in the window, so
 * that retries never multiply an outage. The window is a ring of ten slots, so counts age out a
 * tenth of the window at a time.
 */
import type { Clock } from '../balance/clock.js'
import type { RetryBudgetConfig } from '../config/route-types.js'

const SLOTS = 10

export class RetryBudget {
  readonly ratio: number
  readonly minPerSecond: number
  readonly ttlMs: number
  readonly #clock: Clock
  readonly #slotMs: number
  readonly #requests = new Float64Array(SLOTS)
  readonly #retries = new Float64Array(SLOTS)
  /** The slot number (time / slotMs) of the newest slot. */
  #current: number

  constructor (config: RetryBudgetConfig, clock: Clock) {
    this.ratio = config.ratio
    this.minPerSecond = config.minPerSecond
    this.ttlMs = config.ttlMs
    this.#clock = clock
    this.#slotMs = config.ttlMs / SLOTS
    this.#current = Math.floor(clock.now() / this.#slotMs)
  }

  /** Moves the ring to now, clearing the slots that aged out. */
  #advance (): number {
    const now = Math.floor(this.#clock.now() / this.#slotMs)
    const steps = Math.min(SLOTS, now - this.#current)
    for (let i = 1; i <= steps; i++) {
      const slot = (this.#current + i) % SLOTS
      this.#requests[slot] = 0
      this.#retries[slot] = 0
    }
    if (now > this.#current) this.#current = now
    return this.#current % SLOTS
  }

  /** A first try was made. */
  deposit (): void {
    this.#requests[this.#advance()]++
  }

  /** Retries still allowed in the window now (may be fractional). */
  balance (): number {
    this.#advance()
    let requests = 0
    let retries = 0
    for (let i = 0; i < SLOTS; i++) { requests += this.#requests[i]; retries += this.#retries[i] }
    return this.minPerSecond * (this.ttlMs / 1000) + this.ratio * requests - retries
  }

  /** Takes one retry out of the budget if there is room; false means: do not retry. */
  tryWithdraw (): boolean {
    if (this.balance() < 1) return false
    this.#retries[this.#current % SLOTS]++
    return true
  }
}
