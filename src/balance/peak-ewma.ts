// Requests: power of two choices over peak-EWMA latency × (1 + pending / weight).
import type { Endpoint } from '../discovery/types.js'
import { systemClock, type Clock } from './clock.js'
import { reconcile, once, type Slot } from './keyed.js'
import { noopBalancerObserver, type BalancerObserver } from './observer.js'
import { powerOfTwoChoices, WeightedIndex } from './p2c.js'
import type { Balancer, Pick, PickKind, PickResult } from './types.js'

export interface PeakEwmaOptions {
  /** Time constant of the exponential decay, ms (default 10 s). */
  decayMs?: number
  /** Estimate a new endpoint starts with, ms (default 30 ms). */
  defaultRttMs?: number
  clock?: Clock
  random?: () => number
  /** Service label for the observer (default ''). */
  service?: string
  observer?: BalancerObserver
}

export const PEAK_EWMA_DEFAULTS = {
  decayMs: 10_000, // 10 s
  defaultRttMs: 30, // 30 ms
} as const

/**
 * A peak-sensitive moving average of latency. A sample above the estimate replaces it at once
 * (peaks count fully); a lower sample is blended in with weight `1 - e^(-Δt/τ)`, so the longer
 * since the last sample, the more the new one counts. Read with `at(now)`, the estimate decays
 * towards 0 while idle, so an endpoint that has not been tried for a while gets tried again.
 */
export class PeakEwma {
  estimateMs: number
  updatedAt: number
  private readonly decayMs: number

  constructor (initialMs: number, now: number, decayMs: number) {
    this.estimateMs = initialMs
    this.updatedAt = now
    this.decayMs = decayMs
  }

  /** Folds in one latency sample, ms, observed at `now`. */
  observe (sampleMs: number, now: number): void {
    const elapsed = Math.max(0, now - this.updatedAt)
    if (sampleMs > this.estimateMs) {
      this.estimateMs = sampleMs
    } else {
      const keep = Math.exp(-elapsed / this.decayMs)
      this.estimateMs = this.estimateMs * keep + sampleMs * (1 - keep)
    }
    this.updatedAt = Math.max(this.updatedAt, now)
  }

  /** The estimate at `now`, decayed for the time since the last sample, ms. */
  at (now: number): number {
    const elapsed = Math.max(0, now - this.updatedAt)
    return this.estimateMs * Math.exp(-elapsed / this.decayMs)
  }
}

interface LatencyState {
  ewma: PeakEwma
  pending: number
}

/**
 * P2C over peak-EWMA (the Finagle / linkerd2-proxy balancer): candidates are drawn in proportion
 * to weight, the lower `cost()` wins. Pending requests count from `pick()` to `done()`.
 */
export class PeakEwmaBalancer implements Balancer {
  private slots = new Map<string, Slot<LatencyState>>()
  private list: Array<Slot<LatencyState>> = []
  private index = new WeightedIndex([])
  private readonly decayMs: number
  private readonly defaultRttMs: number
  private readonly clock: Clock
  private readonly random: () => number
  private readonly service: string
  private readonly observer: BalancerObserver

  constructor (options: PeakEwmaOptions = {}) {
    this.decayMs = options.decayMs ?? PEAK_EWMA_DEFAULTS.decayMs
    this.defaultRttMs = options.defaultRttMs ?? PEAK_EWMA_DEFAULTS.defaultRttMs
    this.clock = options.clock ?? systemClock
    this.random = options.random ?? Math.random
    this.service = options.service ?? ''
    this.observer = options.observer ?? noopBalancerObserver
  }

  get size (): number {
    return this.list.length
  }

  update (endpoints: readonly Endpoint[]): void {
    const now = this.clock.now()
    this.slots = reconcile(this.slots, endpoints, () => ({ ewma: new PeakEwma(this.defaultRttMs, now, this.decayMs), pending: 0 }))
    this.list = [...this.slots.values()]
    this.index = new WeightedIndex(this.list.map((s) => s.endpoint.weight))
  }

  /**
   * Cost of an endpoint now: decayed latency × (1 + pending / weight). Lower is better. Weight
   * scales the pending penalty, not the latency: idle endpoints of equal latency tie (and the
   * weighted draw then shares picks ∝ weight), loaded ones settle at pending ∝ weight.
   */
  cost (slot: Slot<LatencyState>, now: number): number {
    return slot.state.ewma.at(now) * (1 + slot.state.pending / slot.endpoint.weight)
  }

  pick (kind: PickKind): Pick | undefined {
    const now = this.clock.now()
    const slot = powerOfTwoChoices(this.list, this.index, (s) => this.cost(s, now), this.random)
    if (slot === undefined) return undefined
    const state = slot.state
    state.pending += 1
    this.observer.picked(this.service, kind, slot.endpoint.key)
    return {
      endpoint: slot.endpoint,
      // Failures teach no latency here: ejecting failing endpoints is failure accrual's job.
      done: once((result: PickResult) => {
        state.pending -= 1
        if (result.ok) state.ewma.observe(result.latencyMs, this.clock.now())
      }),
    }
  }
}
