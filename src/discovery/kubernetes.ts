// The `kubernetes` source: list + watch of discovery.k8s.io/v1 EndpointSlices per service.
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, request } from 'undici'
import type { Logger } from '../log.js'
import type { DiscoveryErrorCode } from './codes.js'
import { ServiceFeed } from './feed.js'
import { readEndpointSlice, sliceMeta, type KubernetesServiceOptions } from './kubernetes-slice.js'
import { noopDiscoveryObserver, type DiscoveryObserver } from './observer.js'
import type { DiscoverySource, DiscoveryUpdate, Endpoint } from './types.js'

export type { KubernetesServiceOptions }

/** In-cluster service-account files. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

export interface KubernetesSourceOptions {
  /** API server URL (default `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`). */
  apiServer?: string
  /** Bearer token; else read from `tokenFile` before every request (tokens rotate). */
  token?: string
  /** Default `<SERVICE_ACCOUNT_DIR>/token`; `false` sends no token. */
  tokenFile?: string | false
  /** CA bundle PEM for an https API server; else read from `caFile`. */
  ca?: string
  /** Default `<SERVICE_ACCOUNT_DIR>/ca.crt` (used for https only). */
  caFile?: string
  /** Namespace of services that name none (default: `<SERVICE_ACCOUNT_DIR>/namespace`, else `default`). */
  namespace?: string
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

/** The stored resourceVersion is too old (HTTP 410 or an ERROR event with code 410): relist. */
class Gone extends Error {}

/** A failure with a discovery code, logged once by the loop. */
class CodedError extends Error {
  constructor (readonly code: DiscoveryErrorCode, message: string) { super(message) }
}

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
 * from the last resourceVersion seen (after a backoff that resets once events flow again);
 * 410 Gone relists. An invalid slice is logged (E_DISCOVERY_K8S_INVALID_SLICE) and its last good
 * version kept. The service's set is the union of its slices' ready endpoints.
 */
export class KubernetesSource implements DiscoverySource {
  readonly name = 'kubernetes'
  private readonly feed: ServiceFeed
  private readonly abort = new AbortController()
  private readonly loops: Array<Promise<void>> = []
  private readonly agents = new Map<string, Agent>()
  private readonly o: Required<Pick<KubernetesSourceOptions, 'backoffInitialMs' | 'backoffMaxMs' | 'watchTimeoutSeconds' | 'listTimeoutMs'>>
  private closed = false

  constructor (private readonly options: KubernetesSourceOptions, private readonly logger?: Logger, private readonly observer: DiscoveryObserver = noopDiscoveryObserver) {
    this.feed = new ServiceFeed(this.name, observer)
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
    await Promise.allSettled([...this.agents.values()].map((a) => a.close()))
  }

  private async run (service: string, config: KubernetesServiceOptions): Promise<void> {
    const namespace = config.namespace ?? this.options.namespace ?? await this.defaultNamespace()
    const state: WatchState = { service, config, namespace, slices: new Map(), resourceVersion: undefined }
    let backoff = this.o.backoffInitialMs
    while (!this.closed) {
      try {
        if (state.resourceVersion === undefined) await this.list(state)
        const events = await this.watchOnce(state)
        if (events > 0) backoff = this.o.backoffInitialMs
      } catch (err) {
        if (this.closed) return
        // A 410 to a watch means our resourceVersion is too old: relist at once. (One to a list
        // is an ordinary failure, retried after the backoff.)
        if (err instanceof Gone && state.resourceVersion !== undefined) {
          this.problem('E_DISCOVERY_K8S_GONE', service, `resourceVersion ${state.resourceVersion ?? '?'} expired; relisting`)
          state.resourceVersion = undefined
          continue
        }
        const code = err instanceof CodedError ? err.code : 'E_DISCOVERY_K8S_STREAM'
        this.problem(code, service, (err as Error).message)
      }
      if (this.closed) return
      await sleep(backoff * (0.8 + 0.2 * Math.random()), undefined, { signal: this.abort.signal }).catch(() => {})
      backoff = Math.min(this.o.backoffMaxMs, backoff * 2)
    }
  }

  private sliceUrl (state: WatchState, query: Record<string, string>): string {
    const base = this.apiServer().replace(/\/+$/, '')
    const params = new URLSearchParams({ labelSelector: `kubernetes.io/service-name=${state.config.name}`, ...query })
    return `${base}/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(state.namespace)}/endpointslices?${params.toString()}`
  }

  private async list (state: WatchState): Promise<void> {
    const previous = state.slices
    const slices = new Map<string, Endpoint[]>()
    let resourceVersion: string | undefined
    let cont: string | undefined
    do {
      const query: Record<string, string> = { limit: '500' }
      if (cont !== undefined) query.continue = cont
      const body = await this.get(this.sliceUrl(state, query), AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.o.listTimeoutMs)]), this.o.listTimeoutMs)
      const list = await body.json() as { metadata?: { resourceVersion?: unknown, continue?: unknown }, items?: unknown }
      if (!Array.isArray(list.items)) throw new CodedError('E_DISCOVERY_K8S_HTTP', 'list answer has no items')
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
    const url = this.sliceUrl(state, {
      watch: '1',
      resourceVersion: state.resourceVersion ?? '',
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(this.o.watchTimeoutSeconds),
    })
    const body = await this.get(url, this.abort.signal, (this.o.watchTimeoutSeconds + 30) * 1000)
    let events = 0
    let buffered = ''
    const decoder = new TextDecoder()
    try {
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
      throw new CodedError('E_DISCOVERY_K8S_STREAM', `unreadable watch line: ${line.slice(0, 80)}`)
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
        if (status?.code === 410) throw new Gone(String(status.message ?? 'Gone'))
        throw new CodedError('E_DISCOVERY_K8S_HTTP', `watch ERROR event: ${String(status?.code)} ${String(status?.message ?? '')}`)
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

  private async get (url: string, signal: AbortSignal, bodyTimeoutMs: number): Promise<Awaited<ReturnType<typeof request>>['body']> {
    const headers: Record<string, string> = { accept: 'application/json' }
    const token = await this.token()
    if (token !== undefined) headers.authorization = `Bearer ${token}`
    const response = await request(url, { method: 'GET', headers, signal, dispatcher: await this.agent(url), bodyTimeout: bodyTimeoutMs })
    if (response.statusCode === 410) {
      await response.body.dump()
      throw new Gone('410 Gone')
    }
    if (response.statusCode !== 200) {
      const text = (await response.body.text()).slice(0, 200)
      throw new CodedError('E_DISCOVERY_K8S_HTTP', `GET ${new URL(url).pathname} answered ${response.statusCode}: ${text}`)
    }
    return response.body
  }

  private apiServer (): string {
    if (this.options.apiServer !== undefined) return this.options.apiServer
    const host = process.env.KUBERNETES_SERVICE_HOST
    const port = process.env.KUBERNETES_SERVICE_PORT ?? '443'
    if (host === undefined) throw new CodedError('E_DISCOVERY_K8S_CREDENTIALS', 'no apiServer given and KUBERNETES_SERVICE_HOST is not set')
    return `https://${host.includes(':') ? `[${host}]` : host}:${port}`
  }

  private async token (): Promise<string | undefined> {
    if (this.options.token !== undefined) return this.options.token
    if (this.options.tokenFile === false) return undefined
    const file = this.options.tokenFile ?? `${SERVICE_ACCOUNT_DIR}/token`
    try {
      return (await readFile(file, 'utf8')).trim()
    } catch (err) {
      throw new CodedError('E_DISCOVERY_K8S_CREDENTIALS', `cannot read token ${file}: ${(err as Error).message}`)
    }
  }

  private async agent (url: string): Promise<Agent> {
    const https = url.startsWith('https:')
    const key = https ? 'https' : 'http'
    let agent = this.agents.get(key)
    if (agent !== undefined) return agent
    let ca: string | undefined
    if (https) {
      ca = this.options.ca
      if (ca === undefined) {
        const file = this.options.caFile ?? `${SERVICE_ACCOUNT_DIR}/ca.crt`
        try {
          ca = await readFile(file, 'utf8')
        } catch (err) {
          throw new CodedError('E_DISCOVERY_K8S_CREDENTIALS', `cannot read CA ${file}: ${(err as Error).message}`)
        }
      }
    }
    agent = this.agents.get(key) ?? new Agent(ca !== undefined ? { connect: { ca } } : {})
    this.agents.set(key, agent)
    return agent
  }

  private async defaultNamespace (): Promise<string> {
    try {
      return (await readFile(`${SERVICE_ACCOUNT_DIR}/namespace`, 'utf8')).trim() || 'default'
    } catch {
      return 'default'
    }
  }

  private problem (code: DiscoveryErrorCode, service: string, message: string): void {
    this.observer.error(this.name, code)
    this.logger?.error({ code, service }, `kubernetes discovery: ${message}`)
  }
}
