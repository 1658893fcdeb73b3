// Builds the discovery sources and the ServiceDirectory a config describes, and says when they are primed.
import type { BalancerObserver } from '../balance/observer.js'
import type { BalancingOptions } from '../balance/service-balancer.js'
import type { BalancingConfig, DiscoverySourceConfig, MeshConfig, ServiceConfig } from '../config/types.js'
import type { Logger } from '../log.js'
import { ServiceDirectory } from './directory.js'
import { noopDiscoveryObserver, type DiscoveryObserver } from './observer.js'
import { StaticSource } from './static.js'
import { SUBSET_SOURCE, SubsetSource, subsetName } from './subset.js'
import type { DiscoverySource } from './types.js'

/** Name of the source that serves services' own `endpoints` (reserved: no configured source has it). */
export const STATIC_SOURCE = 'static'

export interface DiscoveryComponents {
  logger?: Logger
  balancerObserver?: BalancerObserver
  discoveryObserver?: DiscoveryObserver
  /**
   * Builds the source of a remote cluster's exported services (multi-cluster: a service with
   * `cluster:` or `failover:`); required when the config has such services.
   */
  remoteSource?: (cluster: string, observer: DiscoveryObserver) => DiscoverySource
}

/** Source name of a remote cluster's exports; `<service>@<cluster>` is a service's failover. */
export function remoteSourceName (cluster: string): string {
  return `gateway:${cluster}`
}

/** The directory the outbound role picks from, and its readiness. */
export interface ConfiguredDiscovery {
  readonly directory: ServiceDirectory
  /**
   * True once every service has heard from its source: a set (maybe empty), "does not exist",
   * or a problem the source reported (it then keeps retrying). Stays true afterwards.
   */
  primed: () => boolean
  /**
   * Resolves when primed() turns true (at once if it is). Never rejects; stays pending if
   * discovery never primes or is closed first (it holds no timer, so it keeps nothing alive).
   */
  whenPrimed: () => Promise<void>
  /** Closes the directory and every source. Safe twice. */
  close: () => Promise<void>
}

/** The config's balancing section as the balancers' options. */
export function balancingOptions (config: BalancingConfig): BalancingOptions {
  return {
    requests: config.requests,
    peakEwma: { ...config.peakEwma },
    failureAccrual: { ...config.failureAccrual },
    queue: { ...config.queue },
  }
}

/**
 * The observer a source gets: events are labelled with the source's config name (two dns sources
 * stay apart in metrics), and a problem marks the source as having answered.
 */
function labelled (inner: DiscoveryObserver, name: string, onError: () => void): DiscoveryObserver {
  return {
    updated: (_source, service, kind) => { inner.updated(name, service, kind) },
    error: (_source, code) => { onError(); inner.error(name, code) },
    endpoints: (_source, service, count) => { inner.endpoints(name, service, count) },
  }
}

/** Builds a configured source; each kind's module is loaded only when some config names it. */
async function sourceFor (name: string, config: DiscoverySourceConfig, observer: DiscoveryObserver, logger: Logger | undefined): Promise<DiscoverySource> {
  // The same bindings as createSource (discovery/index.ts) gives, under the source's config name.
  const log = logger?.child({ discoverySource: name }).child({ component: 'discovery', source: config.kind })
  switch (config.kind) {
    case 'file': {
      const { FileSource } = await import('./file.js')
      const { kind: _kind, ...options } = config
      return new FileSource(options, log, observer)
    }
    case 'dns': {
      const { DnsSource } = await import('./dns.js')
      const { kind: _kind, servers, services, ...options } = config
      return new DnsSource({ ...options, ...(servers !== undefined ? { servers: [...servers] } : {}), services: { ...services } }, log, observer)
    }
    case 'namerd': {
      const { NamerdSource } = await import('./namerd.js')
      const { kind: _kind, services, ...options } = config
      return new NamerdSource({ ...options, services: { ...services } }, log, observer)
    }
    case 'kubernetes': {
      const { KubernetesSource } = await import('./kubernetes.js')
      const { kind: _kind, services, ...options } = config
      return new KubernetesSource({ ...options, services: { ...services } }, log, observer)
    }
  }
}

/**
 * Services with `endpoints` are served by the static source, the others by the source they name.
 * Only sources some service names are started. Throws ConfigError / MeshError (E_CONFIG) when a
 * source cannot be built.
 */
export async function discoveryFromConfig (config: Pick<MeshConfig, 'file' | 'services' | 'discovery' | 'balancing'>, components: DiscoveryComponents = {}): Promise<ConfiguredDiscovery> {
  const observer = components.discoveryObserver ?? noopDiscoveryObserver
  const answered = new Set<string>()
  // Set once the directory exists; sources only report on later turns, so none is lost before.
  let checkPrimed = (): void => {}
  const sourceOf = (service: ServiceConfig): string => service.source ?? STATIC_SOURCE
  const statics: Record<string, ServiceConfig> = {}
  const services: Record<string, string> = {}
  const remotes = new Set<string>()
  for (const [name, service] of Object.entries(config.services)) {
    if (service.cluster !== undefined) {
      services[name] = remoteSourceName(service.cluster)
      remotes.add(service.cluster)
      continue
    }
    services[name] = sourceOf(service)
    if (service.source === undefined) statics[name] = service
    if (service.failover !== undefined) {
      services[`${name}@${service.failover}`] = remoteSourceName(service.failover)
      remotes.add(service.failover)
    }
  }
  const sources: Record<string, DiscoverySource> = {}
  const used = new Set(Object.values(services))
  try {
    if (used.has(STATIC_SOURCE)) {
      sources[STATIC_SOURCE] = new StaticSource({ services: statics, file: config.file }, labelled(observer, STATIC_SOURCE, () => {}))
    }
    for (const [name, source] of Object.entries(config.discovery?.sources ?? {})) {
      if (!used.has(name)) continue
      sources[name] = await sourceFor(name, source, labelled(observer, name, () => { answered.add(name); checkPrimed() }), components.logger)
    }
    for (const cluster of remotes) {
      const name = remoteSourceName(cluster)
      if (components.remoteSource === undefined) throw new TypeError(`services name the remote cluster ${cluster}, but no remote source was given`)
      sources[name] = components.remoteSource(cluster, labelled(observer, name, () => { answered.add(name); checkPrimed() }))
    }
  } catch (err) {
    for (const source of Object.values(sources)) source.close().catch(() => {})
    throw err
  }
  // Route subsets (`version: v2`) are services of their own, filtered from their service's source:
  // those the config names are subscribed at once; others (a reload's) on first use (the
  // directory sends every `<service>#<labels>` name to the subset source).
  const served = { ...services }
  sources[SUBSET_SOURCE] = new SubsetSource((service) => {
    const source = served[service]
    return source === undefined ? undefined : sources[source]
  })
  for (const [name, service] of Object.entries(config.services)) {
    for (const route of service.routes ?? []) {
      for (const b of route.backends) if (b.subset !== undefined) services[subsetName(b.service ?? name, b.subset)] = SUBSET_SOURCE
    }
  }
  let primed = false
  let onPrimed: (() => void) | undefined
  const becamePrimed = new Promise<void>((resolve) => { onPrimed = resolve })
  const isPrimed = (): boolean => {
    primed ||= Object.entries(services).every(([service, source]) => source === SUBSET_SOURCE || directory.status(service) !== 'pending' || answered.has(source))
    if (primed) onPrimed?.()
    return primed
  }
  const directory: ServiceDirectory = new ServiceDirectory({ sources, services, balancing: balancingOptions(config.balancing) }, {
    logger: components.logger?.child({ component: 'balancer' }),
    observer: components.balancerObserver,
    // checkPrimed is a no-op until the directory exists (a source answering inside watch()).
    onApplied: () => { checkPrimed() },
  })
  checkPrimed = () => { if (!primed) isPrimed() }
  // No service at all, or every source answered already: primed now.
  checkPrimed()
  return {
    directory,
    primed: isPrimed,
    whenPrimed: async () => { await becamePrimed },
    close: async () => { await directory.close() },
  }
}
