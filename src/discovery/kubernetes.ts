// The `kubernetes` source: list + watch of discovery.k8s.io/v1 EndpointSlices per service.
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from '../log.js'
import type { DiscoveryErrorCode } from './codes.js'
import { ServiceFeed } from './feed.js'
import { GoneError, KubernetesApiClient, KubernetesError, type KubernetesConnection } from './kubernetes-api.js'
import { readEndpointSlice, sliceMeta, type KubernetesServiceOptions } from './kubernetes-slice.js'
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
}

export const KUBERNETES_SOURCE_DEFAULTS = {
  backoffInitialMs: 500, // 500 ms
  backoffMaxMs: 30_000, // 30 s
  watchTimeoutSeconds: 300, // 5 min
  listTimeoutMs: 10_000, // 10 s
} as const

/** A watch that stayed open this long ended normally (server timeout), not by failing, ms. */
const HEALTHY_WATCH_MS = 1_000

interface WatchState {
  service: string
  config: KubernetesServiceOptions
  namespace: string
  /** Last good version of each slice by name. */
  slices: Map<string, Endpoint[]>
  resourceVersion: string | undefined
}

/**
 * One list+watch loop per service: list the slices labelled `kubernetes.io/service-name=<name>`,
 * then watch from the list's resourceVersion with bookmarks. A dropped or ended watch resumes
 * from the last resourceVersion seen, after a backoff (with jitter) that grows on failures and
 * resets once a watch delivers events or stays up; 410 Gone (HTTP status or ERROR event) relists.
 * An invalid slice is logged (E_DISCOVERY_K8S_INVALID_SLICE) and its last good version kept.
 * The service's set is the union of its slices' ready endpoints.
 */
export class KubernetesSource implements DiscoverySource {
  readonly name = 'kubernetes'
  private readonly feed: ServiceFeed
  private readonly api: KubernetesApiClient
  private readonly abort = new AbortController()
  private readonly loops: Array<Promise<void>> = []
  private readonly o: Required<Pick<KubernetesSourceOptions, 'backoffInitialMs' | 'backoffMaxMs' | 'watchTimeoutSeconds' | 'listTimeoutMs'>>
  private closed = false

  constructor (private readonly options: KubernetesSourceOptions, private readonly logger?: Logger, private readonly observer: DiscoveryObserver = noopDiscoveryObserver) {
    this.feed = new ServiceFeed(this.name, observer)
    this.api = new KubernetesApiClient(options)
    this.o = {
      backoffInitialMs: options.backoffInitialMs ?? KUBERNETES_SOURCE_DEFAULTS.backoffInitialMs,
      backoffMaxMs: options.backoffMaxMs ?? KUBERNETES_SOURCE_DEFAULTS.backoffMaxMs,
      watchTimeoutSeconds: options.watchTimeoutSeconds ?? KUBERNETES_SOURCE_DEFAULTS.watchTimeoutSeconds,
      listTimeoutMs: options.listTimeoutMs ?? KUBERNETES_SOURCE_DEFAULTS.listTimeoutMs,
    }
    for (const [service, config] of Object.entries(options.services)) {
      this.loops.push(this.run(service, config).catch((err: unknown) => {
        if (!this.closed) this.logger?.error({ err, service }, 'kubernetes watch loop ended unexpectedly')
      }))
    }
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

  private async run (service: string, config: KubernetesServiceOptions): Promise<void> {
    const state: WatchState = { service, config, namespace: '', slices: new Map(), resourceVersion: undefined }
    let backoff = this.o.backoffInitialMs
    while (!this.closed) {
      try {
        if (state.namespace === '') state.namespace = config.namespace ?? await this.api.namespace()
        if (state.resourceVersion === undefined) await this.list(state)
        const started = performance.now()
        const events = await this.watchOnce(state)
        if (events > 0 || performance.now() - started >= HEALTHY_WATCH_MS) backoff = this.o.backoffInitialMs
      } catch (err) {
        if (this.closed) return
        // A 410 to a watch means our resourceVersion is too old: relist at once. (One to a list
        // is an ordinary failure, retried after the backoff.)
        if (err instanceof GoneError && state.resourceVersion !== undefined) {
          this.problem('E_DISCOVERY_K8S_GONE', service, `resourceVersion ${state.resourceVersion} expired; relisting`)
          state.resourceVersion = undefined
          continue
        }
        this.problem(err instanceof KubernetesError ? err.code : 'E_DISCOVERY_K8S_STREAM', service, (err as Error).message)
        await this.pause(backoff)
        backoff = Math.min(this.o.backoffMaxMs, backoff * 2)
        continue
      }
      await this.pause(backoff)
    }
  }

  private async pause (ms: number): Promise<void> {
    if (this.closed) return
    await sleep(ms * (0.8 + 0.2 * Math.random()), undefined, { signal: this.abort.signal }).catch(() => {})
  }

  private slicePath (state: WatchState, query: Record<string, string>): string {
    const params = new URLSearchParams({ labelSelector: `kubernetes.io/service-name=${state.config.name}`, ...query })
    return `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(state.namespace)}/endpointslices?${params.toString()}`
  }

  private async list (state: WatchState): Promise<void> {
    const previous = state.slices
    const slices = new Map<string, Endpoint[]>()
    let resourceVersion: string | undefined
    let cont: string | undefined
    do {
      const query: Record<string, string> = { limit: '500' }
      if (cont !== undefined) query.continue = cont
      const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.o.listTimeoutMs)])
      const body = await this.api.get(this.slicePath(state, query), signal, this.o.listTimeoutMs)
      const list = await body.json() as { metadata?: { resourceVersion?: unknown, continue?: unknown }, items?: unknown }
      if (!Array.isArray(list.items)) throw new KubernetesError('E_DISCOVERY_K8S_HTTP', 'list answer has no items')
      for (const item of list.items) this.apply(state, slices, previous, item)
      resourceVersion = typeof list.metadata?.resourceVersion === 'string' ? list.metadata.resourceVersion : undefined
      cont = typeof list.metadata?.continue === 'string' && list.metadata.continue !== '' ? list.metadata.continue : undefined
    } while (cont !== undefined)
    state.slices = slices
    state.resourceVersion = resourceVersion
    this.publish(state)
  }

  /** Streams one watch until it ends; returns the number of events seen. */
  private async watchOnce (state: WatchState): Promise<number> {
    const path = this.slicePath(state, {
      watch: '1',
      resourceVersion: state.resourceVersion ?? '',
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(this.o.watchTimeoutSeconds),
    })
    const body = await this.api.get(path, this.abort.signal, (this.o.watchTimeoutSeconds + 30) * 1000)
    let events = 0
    let buffered = ''
    const decoder = new TextDecoder()
    try {
      // One JSON watch event per line, in chunks that need not align with lines.
      for await (const chunk of body) {
        buffered += decoder.decode(chunk as Buffer, { stream: true })
        let newline: number
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim()
          buffered = buffered.slice(newline + 1)
          if (line === '') continue
          this.event(state, line)
          events += 1
        }
      }
    } finally {
      body.destroy()
    }
    return events
  }

  private event (state: WatchState, line: string): void {
    let event: { type?: unknown, object?: unknown }
    try {
      event = JSON.parse(line) as { type?: unknown, object?: unknown }
    } catch {
      throw new KubernetesError('E_DISCOVERY_K8S_STREAM', `unreadable watch line: ${line.slice(0, 80)}`)
    }
    const { name, resourceVersion } = sliceMeta(event.object)
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED': {
        const slices = new Map(state.slices)
        this.apply(state, slices, state.slices, event.object)
        state.slices = slices
        this.publish(state)
        break
      }
      case 'DELETED':
        if (name !== undefined && state.slices.delete(name)) this.publish(state)
        break
      case 'BOOKMARK':
        break
      case 'ERROR': {
        const status = event.object as { code?: unknown, message?: unknown } | undefined
        if (status?.code === 410) throw new GoneError(String(status.message ?? 'Gone'))
        throw new KubernetesError('E_DISCOVERY_K8S_HTTP', `watch ERROR event: ${String(status?.code)} ${String(status?.message ?? '')}`)
      }
      default:
        this.logger?.debug({ service: state.service, type: event.type }, 'unknown watch event type ignored')
    }
    if (resourceVersion !== undefined) state.resourceVersion = resourceVersion
  }

  /** Puts a slice into `into`; an invalid one keeps its version from `previous`, if any. */
  private apply (state: WatchState, into: Map<string, Endpoint[]>, previous: ReadonlyMap<string, Endpoint[]>, object: unknown): void {
    const reading = readEndpointSlice(object, state.config, state.namespace)
    if (reading.ok) {
      into.set(reading.name, reading.endpoints)
      return
    }
    this.problem('E_DISCOVERY_K8S_INVALID_SLICE', state.service, `EndpointSlice ${reading.name ?? '?'}: ${reading.reason}; last good version kept`)
    const kept = reading.name === undefined ? undefined : previous.get(reading.name)
    if (kept !== undefined && reading.name !== undefined) into.set(reading.name, kept)
  }

  private publish (state: WatchState): void {
    const union = new Map<string, Endpoint>()
    for (const endpoints of state.slices.values()) for (const e of endpoints) if (!union.has(e.key)) union.set(e.key, e)
    this.feed.publish(state.service, [...union.values()])
  }

  private problem (code: DiscoveryErrorCode, service: string, message: string): void {
    this.observer.error(this.name, code)
    this.logger?.error({ code, service }, `kubernetes discovery: ${message}`)
  }
}
