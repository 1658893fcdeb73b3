/**
 * Routing by destination address, for traffic the transparent redirect sent to the outbound
 * listener: an IP:port names a service when it is one of the service's aliases (a Kubernetes
 * Service's cluster IP and port are written so) or the target of one of its endpoints as
 * discovery reports them (a pod's IP and port). Anything else is unknown and passes through.
 */
import { formatHostPort } from '../config/address.js'
import type { Endpoint } from '../discovery/types.js'

export type ServiceByAddress = (host: string, port: number) => string | undefined

/**
 * `endpointsOf` reads discovery's current set, so a pod that appears or moves is found at once.
 * Linear in the endpoints of all services, once per redirected connection (not per request).
 */
export function serviceByAddress (aliasOf: (authority: string) => string | undefined, services: readonly string[], endpointsOf: (service: string) => readonly Endpoint[]): ServiceByAddress {
  return (host, port) => {
    const address = formatHostPort(host, port)
    const byAlias = aliasOf(address)
    if (byAlias !== undefined) return byAlias
    for (const service of services) {
      if (endpointsOf(service).some((e) => e.target === address)) return service
    }
    return undefined
  }
}
