// Smooth weighted round robin: the bench baseline, blind to latency and load.
import type { Endpoint } from '../discovery/types.js'
import { reconcile, type Slot } from './keyed.js'
import { noopBalancerObserver, type BalancerObserver } from './observer.js'
import type { Balancer, Pick, PickKind } from './types.js'

export interface RoundRobinOptions {
  /** Service label for the observer (default ''). */
  service?: string
  observer?: BalancerObserver
}

interface TurnState {
  current: number
}

/**
 * Each pick adds every endpoint's weight to its running credit and takes the endpoint with the
 * most credit, which then pays the total weight back. Over any sum-of-weights picks each endpoint
 * is chosen exactly weight times, interleaved rather than in runs (the nginx "smooth" variant).
 */
export class RoundRobinBalancer implements Balancer {
  private slots = new Map<string, Slot<TurnState>>()
  private list: Array<Slot<TurnState>> = []
  private total = 0
  private readonly service: string
  private readonly observer: BalancerObserver

  constructor (options: RoundRobinOptions = {}) {
    this.service = options.service ?? ''
    this.observer = options.observer ?? noopBalancerObserver
  }

  get size (): number {
    return this.list.length
  }

  update (endpoints: readonly Endpoint[]): void {
    this.slots = reconcile(this.slots, endpoints, () => ({ current: 0 }))
    this.list = [...this.slots.values()]
    this.total = this.list.reduce((sum, s) => sum + s.endpoint.weight, 0)
  }

  pick (kind: PickKind): Pick | undefined {
    let best: Slot<TurnState> | undefined
    for (const slot of this.list) {
      slot.state.current += slot.endpoint.weight
      if (best === undefined || slot.state.current > best.state.current) best = slot
    }
    if (best === undefined) return undefined
    best.state.current -= this.total
    this.observer.picked(this.service, kind, best.endpoint.key)
    return { endpoint: best.endpoint, done: () => {} }
  }
}
