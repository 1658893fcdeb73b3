// Tunnels: power of two choices over open tunnels, (open + 1) / weight.
import type { Endpoint } from '../discovery/types.js'
import { reconcile, once, type Slot } from './keyed.js'
import { noopBalancerObserver, type BalancerObserver } from './observer.js'
import { powerOfTwoChoices } from './p2c.js'
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
 * (picks not yet `done`); comparing (open + 1) / weight makes open tunnels settle in proportion
 * to weight.
 */
export class LeastLoadedBalancer implements Balancer {
  private slots = new Map<string, Slot<LoadState>>()
  private list: Array<Slot<LoadState>> = []
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
  }

  pick (kind: PickKind): Pick | undefined {
    const slot = powerOfTwoChoices(this.list, (s) => (s.state.open + 1) / s.endpoint.weight, this.random)
    if (slot === undefined) return undefined
    const state = slot.state
    state.open += 1
    this.observer.picked(this.service, kind, slot.endpoint.key)
    return { endpoint: slot.endpoint, done: once(() => { state.open -= 1 }) }
  }
}
