// Tunnels: power of two choices over open tunnels per unit of weight.
import type { Endpoint } from '../discovery/types.js'
import { reconcile, once, type Slot } from './keyed.js'
import { noopBalancerObserver, type BalancerObserver } from './observer.js'
import { powerOfTwoChoices, WeightedIndex } from './p2c.js'
import type { Balancer, Pick, PickKind } from './types.js'

export interface LeastLoadedOptions {
  random?: () => number
  /** Service label for the observer (default ''). */
  service?: string
  observer?: BalancerObserver
}

interface LoadState {
  open: number
}

/**
 * Weighted least-loaded P2C, the linkerd-tcp shape: the load of an endpoint is its open tunnels
 * (picks not yet `done`). Candidates are drawn in proportion to weight and the lower
 * open / weight wins, the first drawn on a tie: idle endpoints share picks ∝ weight and open
 * tunnels settle ∝ weight.
 */
export class LeastLoadedBalancer implements Balancer {
  private slots = new Map<string, Slot<LoadState>>()
  private list: Array<Slot<LoadState>> = []
  private index = new WeightedIndex([])
  private readonly random: () => number
  private readonly service: string
  private readonly observer: BalancerObserver

  constructor (options: LeastLoadedOptions = {}) {
    this.random = options.random ?? Math.random
    this.service = options.service ?? ''
    this.observer = options.observer ?? noopBalancerObserver
  }

  get size (): number {
    return this.list.length
  }

  /** Open tunnels per endpoint key (for tests and the admin view). */
  load (): Map<string, number> {
    return new Map(this.list.map((s) => [s.endpoint.key, s.state.open]))
  }

  update (endpoints: readonly Endpoint[]): void {
    this.slots = reconcile(this.slots, endpoints, () => ({ open: 0 }))
    this.list = [...this.slots.values()]
    this.index = new WeightedIndex(this.list.map((s) => s.endpoint.weight))
  }

  pick (kind: PickKind): Pick | undefined {
    const slot = powerOfTwoChoices(this.list, this.index, (s) => s.state.open / s.endpoint.weight, this.random)
    if (slot === undefined) return undefined
    const state = slot.state
    state.open += 1
    this.observer.picked(this.service, kind, slot.endpoint.key)
    return { endpoint: slot.endpoint, done: once(() => { state.open -= 1 }) }
  }
}
