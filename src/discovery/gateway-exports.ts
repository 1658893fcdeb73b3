/**
 * The `gateway` source: the services a remote cluster's gateway exports to us, read from its
 * authenticated exports endpoint and refreshed (the way Linkerd mirrors services). Each exported
 * service has one endpoint: the gateway itself, with a GatewayRoute saying how to cross it.
 */
import type { TransportName } from '../config/types.js'
import type { Logger } from '../log.js'
import type { ExportsDocument } from '../multicluster/wire.js'
import type { PeerAddress } from '../../transports/contract.js'
import { ServiceFeed } from './feed.js'
import { noopDiscoveryObserver, type DiscoveryObserver } from './observer.js'
import { endpointKey, type DiscoverySource, type DiscoveryUpdate, type Endpoint } from './types.js'

/** Retry after a failed read, ms (at most the refresh interval). */
const RETRY_MS = 500

export interface GatewayExportsSourceOptions {
  cluster: string
  gateway: PeerAddress
  /** The identity the gateway presents. */
  identity: string
  transport: TransportName
  /** Between reads, ms. */
  refreshMs: number
  /** Reads the gateway's exports over an authenticated session; rejects on any failure. */
  fetchExports: () => Promise<ExportsDocument>
}

/**
 * Directory names of the form `<service>@<cluster>` (a local service's failover) watch the
 * remote `<service>`; any other name is the remote service's own name.
 */
export function remoteServiceName (service: string): string {
  const at = service.lastIndexOf('@')
  return at > 0 ? service.slice(0, at) : service
}

export class GatewayExportsSource implements DiscoverySource {
  readonly name: string
  readonly #options: GatewayExportsSourceOptions
  readonly #feed: ServiceFeed
  readonly #observer: DiscoveryObserver
  readonly #logger: Logger | undefined
  #last: ExportsDocument | undefined
  #timer: NodeJS.Timeout | undefined
  #closed = false
  #failing = false

  constructor (options: GatewayExportsSourceOptions, logger?: Logger, observer: DiscoveryObserver = noopDiscoveryObserver) {
    this.name = `gateway:${options.cluster}`
    this.#options = options
    this.#observer = observer
    this.#feed = new ServiceFeed(this.name, observer)
    this.#logger = logger
    this.#refresh()
  }

  watch (service: string, onUpdate: (update: DiscoveryUpdate) => void): () => void {
    const stop = this.#feed.watch(service, onUpdate)
    if (this.#last !== undefined) this.#publish(service)
    return stop
  }

  /** The exports last read (undefined before the first answer). */
  exports (): ExportsDocument | undefined {
    return this.#last
  }

  async close (): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#feed.close()
  }

  #refresh (): void {
    this.#options.fetchExports().then((doc) => {
      if (this.#closed) return
      if (this.#failing) this.#logger?.info({ cluster: this.#options.cluster }, 'gateway exports readable again')
      this.#failing = false
      this.#last = doc
      for (const service of this.#feed.services()) this.#publish(service)
      this.#schedule(this.#options.refreshMs)
    }, (err: unknown) => {
      if (this.#closed) return
      // The last good set stays: a gateway that is down for a moment keeps its services routed.
      if (!this.#failing) {
        this.#logger?.warn({ code: 'E_DISCOVERY_GATEWAY_FAILED', cluster: this.#options.cluster, err: (err as Error).message }, 'cannot read the gateway\'s exports; keeping the last set')
      }
      this.#failing = true
      this.#observer.error(this.name, 'E_DISCOVERY_GATEWAY_FAILED')
      this.#schedule(Math.min(RETRY_MS, this.#options.refreshMs))
    })
  }

  #schedule (ms: number): void {
    this.#timer = setTimeout(() => this.#refresh(), ms)
    this.#timer.unref()
  }

  #publish (service: string): void {
    const remote = remoteServiceName(service)
    const exported = this.#last?.services[remote]
    if (exported === undefined) {
      this.#feed.publish(service, null)
      return
    }
    const { gateway, identity, transport, cluster } = this.#options
    const endpoint: Endpoint = {
      key: endpointKey(gateway, `${cluster}/${remote}`),
      peer: gateway,
      identity,
      // A placeholder: the gateway names the real workload (e2e) or picks it itself (terminate).
      target: remote,
      weight: 1,
      transport,
      zone: cluster,
      via: { cluster, service: remote, mode: exported.mode, identities: [...exported.identities] },
    }
    this.#feed.publish(service, [endpoint])
  }
}
