// One balancer per kind of traffic: requests to one, tunnels to the other, same endpoint set.
import type { Endpoint } from '../discovery/types.js'
import type { Balancer, Pick, PickKind } from './types.js'

/** Sends `request` picks to `requests` and `tunnel` picks to `tunnels`; updates both. */
export class ByKindBalancer implements Balancer {
  constructor (private readonly requests: Balancer, private readonly tunnels: Balancer) {}

  get size (): number {
    return this.requests.size
  }

  update (endpoints: readonly Endpoint[]): void {
    this.requests.update(endpoints)
    this.tunnels.update(endpoints)
  }

  pick (kind: PickKind): Pick | undefined {
    return kind === 'tunnel' ? this.tunnels.pick(kind) : this.requests.pick(kind)
  }
}
