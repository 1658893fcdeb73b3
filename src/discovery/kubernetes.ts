// The `kubernetes` source: list + watch of discovery.k8s.io/v1 EndpointSlices per service, labelled with their Pods' labels.
import type { Logger } from '../log.js'
import type { DiscoveryErrorCode } from './codes.js'
import { ServiceFeed } from './feed.js'
import { KubernetesApiClient, type KubernetesConnection } from './kubernetes-api.js'
import { PodLabels } from './kubernetes-pods.js'
import { readEndpointSlice, sliceMeta, type KubernetesServiceOptions } from './kubernetes-slice.js'
import { listWatch, type ListWatchTiming } from './kubernetes-watch.js'
import { noopDiscoveryObserver, type DiscoveryObserver } from './observer.js'
import type { DiscoverySource, DiscoveryUpdate, Endpoint } from './types.js'

export type { KubernetesServiceOptions, KubernetesConnection }
export { SERVICE_ACCOUNT_DIR } from './kubernetes-api.js'

export interface KubernetesSourceOptions extends KubernetesConnection {
  /** meshgate service name → the Kubernetes Service behind it. */
  services: Record<string, KubernetesServiceOptions>
  /** First wait after a failure, ms (default 500 ms); doubles up to `backoffMaxMs`. */
  backoffInitialMs?: number
  /** Longest wait between attempts, ms (default 30 s). */
  backoffMaxMs?: number
  /** Server-side watch timeout, s (default 300 s); the watch then resumes. */
  watchTimeoutSeconds?: number
  /** Time allowed for a list answer, ms (default 10 s). */
  listTimeoutMs?: number
  /**
   * Give each endpoint its Pod's labels (from the slice endpoint's targetRef), by a list + watch
   * of the Pods of each namespace served; needs RBAC get/list/watch on pods (default true).
   */
  podLabels?: boolean
}

export const KUBERNETES_SOURCE_DEFAULTS = {
  backoffInitialMs: 500, // 500 ms
  backoffMaxMs: 30_000, // 30 s
  watchTimeoutSeconds: 300, // 5 min
  listTimeoutMs: 10_000, // 10 s
} as const

/** A slice's endpoints as read, and the pod each one is (same index). */
interface SliceEndpoints { endpoints: Endpoint[], pods: Array<string | undefined> }

interface WatchState {
  service: string
  config: KubernetesServiceOptions
  namespace: string
  /** Last good version of each slice by name. */
  slices: Map<string, SliceEndpoints>
  /** The labels of the namespace's pods (when `podLabels`); endpoints wait for its first list. */
  pods: PodLabels | undefined
  /** The slices were listed once: before that there is nothing to publish. */
  listed: boolean
}

/**
 * One list+watch loop per service (kubernetes-watch.ts): the slices labelled
 * `kubernetes.io/service-name=<name>`. An invalid slice is logged (E_DISCOVERY_K8S_INVALID_SLICE)
 * and its last good version kept. The service's set is the union of its slices' ready endpoints.
 * With `podLabels` (the default), one more loop per namespace watches its Pods, and each endpoint
 * whose targetRef names a Pod carries the slice's labels overlaid with the Pod's; a change of a
 * Pod's labels republishes the services it backs.
 */
export class KubernetesSource implements DiscoverySource {
  readonly name = 'kubernetes'
  private readonly feed: ServiceFeed
  private readonly api: KubernetesApiClient
  private readonly abort = new AbortController()
  private readonly loops: Array<Promise<void>> = []
  private readonly timing: ListWatchTiming
  private readonly pods = new Map<string, PodLabels>()
  private closed = false

  constructor (private readonly options: KubernetesSourceOptions, private readonly logger?: Logger, private readonly observer: DiscoveryObserver = noopDiscoveryObserver) {
    this.feed = new ServiceFeed(this.name, observer)
    this.api = new KubernetesApiClient(options)
    this.timing = {
      backoffInitialMs: options.backoffInitialMs ?? KUBERNETES_SOURCE_DEFAULTS.backoffInitialMs,
      backoffMaxMs: options.backoffMaxMs ?? KUBERNETES_SOURCE_DEFAULTS.backoffMaxMs,
      watchTimeoutSeconds: options.watchTimeoutSeconds ?? KUBERNETES_SOURCE_DEFAULTS.watchTimeoutSeconds,
      listTimeoutMs: options.listTimeoutMs ?? KUBERNETES_SOURCE_DEFAULTS.listTimeoutMs,
    }
    for (const [service, config] of Object.entries(options.services)) this.track(this.run(service, config), service)
  }

  watch (service: string, onUpdate: (update: DiscoveryUpdate) => void): () => void {
    if (this.options.services[service] === undefined) this.feed.publish(service, null)
    return this.feed.watch(service, onUpdate)
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.abort.abort()
    this.feed.close()
    await Promise.allSettled(this.loops)
    await this.api.close()
  }

  private track (loop: Promise<void>, service: string): void {
    this.loops.push(loop.catch((err: unknown) => {
      if (!this.closed) this.logger?.error({ err, service }, 'kubernetes watch loop ended unexpectedly')
    }))
  }

  private async run (service: string, config: KubernetesServiceOptions): Promise<void> {
    const state: WatchState = { service, config, namespace: '', slices: new Map(), pods: undefined, listed: false }
    await listWatch(this.api, this.timing, {
      prepare: async () => {
        state.namespace = config.namespace ?? await this.api.namespace()
        if (this.options.podLabels !== false) state.pods = this.podsOf(state.namespace, service)
        state.pods?.onChange((pod) => {
          if (pod === undefined || [...state.slices.values()].some((s) => s.pods.includes(pod))) this.publish(state)
        })
      },
      path: (query) => this.slicePath(state, query),
      listed: (items) => {
        const slices = new Map<string, SliceEndpoints>()
        for (const item of items) this.apply(state, slices, state.slices, item)
        state.slices = slices
        state.listed = true
        this.publish(state)
      },
      changed: (type, object) => {
        if (type === 'DELETED') {
          const { name } = sliceMeta(object)
          if (name !== undefined && state.slices.delete(name)) this.publish(state)
          return
        }
        const slices = new Map(state.slices)
        this.apply(state, slices, state.slices, object)
        state.slices = slices
        this.publish(state)
      },
      problem: (code, message) => { this.problem(code, service, message) },
      unknown: (type) => { this.logger?.debug({ service, type }, 'unknown watch event type ignored') },
    }, this.abort.signal)
  }

  /** The pod labels of a namespace: one watch per namespace, shared by its services. */
  private podsOf (namespace: string, service: string): PodLabels {
    let pods = this.pods.get(namespace)
    if (pods === undefined) {
      pods = new PodLabels(this.api, this.timing, namespace, this.abort.signal, (code, message) => { this.problem(code, service, message) })
      this.pods.set(namespace, pods)
      this.track(pods.loop, service)
    }
    return pods
  }

  private slicePath (state: WatchState, query: Record<string, string>): string {
    const params = new URLSearchParams({ labelSelector: `kubernetes.io/service-name=${state.config.name}`, ...query })
    return `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(state.namespace)}/endpointslices?${params.toString()}`
  }

  /** Puts a slice into `into`; an invalid one keeps its version from `previous`, if any. */
  private apply (state: WatchState, into: Map<string, SliceEndpoints>, previous: ReadonlyMap<string, SliceEndpoints>, object: unknown): void {
    const reading = readEndpointSlice(object, state.config, state.namespace)
    if (reading.ok) {
      into.set(reading.name, { endpoints: reading.endpoints, pods: reading.pods })
      return
    }
    this.problem('E_DISCOVERY_K8S_INVALID_SLICE', state.service, `EndpointSlice ${reading.name ?? '?'}: ${reading.reason}; last good version kept`)
    const kept = reading.name === undefined ? undefined : previous.get(reading.name)
    if (kept !== undefined && reading.name !== undefined) into.set(reading.name, kept)
  }

  /** Publishes the union of the slices' endpoints, with pod labels (not before the pods' first list). */
  private publish (state: WatchState): void {
    const { pods } = state
    if (!state.listed || (pods !== undefined && !pods.synced)) return
    const union = new Map<string, Endpoint>()
    for (const slice of state.slices.values()) {
      for (const [i, e] of slice.endpoints.entries()) {
        if (union.has(e.key)) continue
        const pod = slice.pods[i]
        const podLabels = pod === undefined ? undefined : pods?.labels(pod)
        union.set(e.key, podLabels === undefined || Object.keys(podLabels).length === 0 ? e : { ...e, labels: { ...e.labels, ...podLabels } })
      }
    }
    this.feed.publish(state.service, [...union.values()])
  }

  private problem (code: DiscoveryErrorCode, service: string, message: string): void {
    this.observer.error(this.name, code)
    this.logger?.error({ code, service }, `kubernetes discovery: ${message}`)
  }
}
