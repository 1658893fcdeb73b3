/**
 * What the outbound role needs from discovery + balancing: an endpoint of a service for one
 * request or tunnel. The default here serves the config's static endpoints round-robin; the
 * discovery directory (src/discovery) provides the latency-aware one.
 */
import type { Pick, PickKind } from '../balance/types.js'
import type { ServiceConfig } from '../config/types.js'
import type { Endpoint } from '../discovery/types.js'
import { endpointKey } from '../discovery/types.js'
import { MeshError } from '../errors.js'
import { splitHostPort } from '../http/headers.js'

export interface EndpointPicker {
  /** Resolves with a pick, or rejects with E_NO_ENDPOINT when the service has none ready. */
  pick: (service: string, kind: PickKind) => Promise<Pick>
}

/** Config endpoints → discovery Endpoints. */
export function staticEndpoints (service: ServiceConfig): Endpoint[] {
  return service.endpoints.map((e) => {
    const { host, port } = splitHostPort(e.peer)
    const peer = { host, port: port ?? 0 }
    return { key: endpointKey(peer, e.target), peer, identity: e.identity, target: e.target, weight: e.weight, transport: e.transport }
  })
}

/** Round-robin over the static endpoints of the config. */
export class StaticRoundRobinPicker implements EndpointPicker {
  readonly #endpoints = new Map<string, Endpoint[]>()
  readonly #next = new Map<string, number>()

  constructor (services: Readonly<Record<string, ServiceConfig>>) {
    for (const [name, service] of Object.entries(services)) this.#endpoints.set(name, staticEndpoints(service))
  }

  async pick (service: string): Promise<Pick> {
    const endpoints = this.#endpoints.get(service) ?? []
    if (endpoints.length === 0) throw new MeshError('E_NO_ENDPOINT', `service "${service}" has no endpoints`)
    const i = (this.#next.get(service) ?? 0) % endpoints.length
    this.#next.set(service, i + 1)
    const endpoint = endpoints[i] as Endpoint
    return { endpoint, done: () => {} }
  }
}
