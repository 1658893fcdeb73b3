// Maps each service to its discovery source and keeps a live balancer per service fed by it.
import type { Logger } from '../log.js'
import { MeshError } from '../../core/errors.js'
import { ServiceBalancer, type BalancingComponents, type BalancingOptions } from '../balance/service-balancer.js'
import type { AbortSignalLike, Pick, PickKind } from '../balance/types.js'
import { isSubsetName, SUBSET_SOURCE } from './subset.js'
import type { DiscoverySource, DiscoveryUpdate, Endpoint } from './types.js'

export interface ServiceDirectoryOptions {
  /** Sources by the name `services` refers to them with (e.g. `static`, `dns`, `k8s`). */
  sources: Record<string, DiscoverySource>
  /** Service → source name. These are subscribed at once, so their sets are warm. */
  services?: Record<string, string>
  /** Source for services not listed (subscribed on first use); none: they have no route. */
  defaultSource?: string
  /** Tuning of every service's balancer stack. */
  balancing?: BalancingOptions
}

/** Injected rather than configured. */
export interface ServiceDirectoryComponents extends BalancingComponents {
  logger?: Logger
  /** Called after each update a service's source sent was applied (readiness listens here). */
  onApplied?: (service: string) => void
}

export type ServiceStatus = 'pending' | 'ready' | 'missing'

interface Entry {
  source: string
  balancer: ServiceBalancer
  endpoints: Map<string, Endpoint>
  status: ServiceStatus
  unsubscribe: () => void
}

/**
 * Applies each source's update stream (reset / add / remove / doesNotExist) to the service's
 * endpoint map and hands the result to its ServiceBalancer. Balancers keep per-endpoint state
 * by key across updates, so in-flight picks stay valid and their `done` still counts.
 */
export class ServiceDirectory {
  private readonly entries = new Map<string, Entry>()
  private closed = false

  constructor (private readonly options: ServiceDirectoryOptions, private readonly components: ServiceDirectoryComponents = {}) {
    for (const [service, source] of Object.entries(options.services ?? {})) {
      if (options.sources[source] === undefined) throw new MeshError('E_CONFIG', `service ${service} names discovery source ${source}, which is not configured`)
    }
    if (options.defaultSource !== undefined && options.sources[options.defaultSource] === undefined) {
      throw new MeshError('E_CONFIG', `default discovery source ${options.defaultSource} is not configured`)
    }
    for (const service of Object.keys(options.services ?? {})) this.entry(service)
  }

  /** True if the service has a source (listed, or a default source exists). */
  has (service: string): boolean {
    return this.sourceOf(service) !== undefined
  }

  /** The service's balancer (created and subscribed on first use), or undefined with no route. */
  balancer (service: string): ServiceBalancer | undefined {
    return this.entry(service)?.balancer
  }

  /** What discovery said so far: nothing yet, a set (maybe empty), or that it does not exist. */
  status (service: string): ServiceStatus | undefined {
    return this.entry(service)?.status
  }

  /** The service's current endpoints as discovery reports them (ejected ones included). */
  endpoints (service: string): readonly Endpoint[] {
    return [...(this.entry(service)?.endpoints.values() ?? [])]
  }

  /**
   * An endpoint for one request or tunnel; call `done` once when it ends. Rejects with
   * MeshError E_NO_ROUTE (no source serves the service) or E_NO_ENDPOINT (the service does not
   * exist, or no endpoint became ready within the queue's wait).
   */
  pick (service: string, kind: PickKind, signal?: AbortSignalLike): Promise<Pick> {
    const entry = this.entry(service)
    if (entry === undefined) return Promise.reject(new MeshError('E_NO_ROUTE', `no discovery source serves ${service}`))
    if (entry.status === 'missing') return Promise.reject(new MeshError('E_NO_ENDPOINT', `discovery source ${entry.source} says ${service} does not exist`))
    return entry.balancer.acquire(kind, signal)
  }

  /** pick() without a promise: a ready endpoint now, or undefined (then call pick()). */
  tryPick (service: string, kind: PickKind): Pick | undefined {
    const entry = this.entry(service)
    if (entry === undefined || entry.status === 'missing') return undefined
    return entry.balancer.tryAcquire(kind)
  }

  /** Unsubscribes, fails waiting callers and closes every source. Safe twice. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const entry of this.entries.values()) {
      entry.unsubscribe()
      entry.balancer.close()
    }
    this.entries.clear()
    await Promise.allSettled(Object.values(this.options.sources).map((s) => s.close()))
  }

  private sourceOf (service: string): string | undefined {
    return this.options.services?.[service] ?? (isSubsetName(service) && this.options.sources[SUBSET_SOURCE] !== undefined ? SUBSET_SOURCE : this.options.defaultSource)
  }

  private entry (service: string): Entry | undefined {
    const existing = this.entries.get(service)
    if (existing !== undefined || this.closed) return existing
    const sourceName = this.sourceOf(service)
    if (sourceName === undefined) return undefined
    const source = this.options.sources[sourceName] as DiscoverySource
    const entry: Entry = {
      source: source.name,
      balancer: new ServiceBalancer(service, this.options.balancing, this.components),
      endpoints: new Map(),
      status: 'pending',
      unsubscribe: () => {},
    }
    this.entries.set(service, entry)
    entry.unsubscribe = source.watch(service, (update) => { this.apply(service, entry, update) })
    return entry
  }

  private apply (service: string, entry: Entry, update: DiscoveryUpdate): void {
    if (this.entries.get(service) !== entry) return
    switch (update.kind) {
      case 'reset':
        entry.endpoints = new Map(update.endpoints.map((e) => [e.key, e]))
        break
      case 'add':
        for (const e of update.endpoints) entry.endpoints.set(e.key, e)
        break
      case 'remove':
        for (const key of update.keys) entry.endpoints.delete(key)
        break
      case 'doesNotExist':
        entry.endpoints = new Map()
        break
    }
    entry.status = update.kind === 'doesNotExist' ? 'missing' : 'ready'
    entry.balancer.update([...entry.endpoints.values()])
    if (entry.status === 'missing') entry.balancer.rejectWaiting(`discovery source ${entry.source} says ${service} does not exist`)
    this.components.logger?.debug({ service, source: entry.source, update: update.kind, endpoints: entry.endpoints.size }, 'discovery update applied')
    this.components.onApplied?.(service)
  }
}
