/** A token bucket: at most `ratePerSecond` takes per second on average, bursts up to `burst`. */

export class TokenBucket {
  readonly ratePerSecond: number
  readonly burst: number
  private tokens: number
  private last: number

  /** `now` returns milliseconds (default `performance.now`); tests pass their own clock. */
  constructor (ratePerSecond: number, burst = ratePerSecond, private readonly now: () => number = () => performance.now()) {
    if (!(ratePerSecond > 0)) throw new RangeError(`rate must be > 0 per second, got ${ratePerSecond}`)
    this.ratePerSecond = ratePerSecond
    this.burst = Math.max(1, burst)
    this.tokens = this.burst
    this.last = this.now()
  }

  /** Takes one token if there is one. */
  take (): boolean {
    const t = this.now()
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.ratePerSecond)
    this.last = t
    if (this.tokens < 1) return false
    this.tokens--
    return true
  }
}
