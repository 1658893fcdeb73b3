/**
 * The `namerd` source: each service names a path (`/svc/web`) that namerd resolves in a namespace
 * through its HTTP interface (io.l5d.httpController): `GET /api/1/resolve/<namespace>?path=<path>`
 * answers one JSON object `{ type: "bound" | "neg" | "failed", addrs: [{ ip, port, meta }] }`, and
 * with `&watch=true` streams one such object per change on a long-lived response. A bound name's
 * addresses become endpoints (peer: the address, or the address with `peerPort`; target from a
 * template), an address's `meta` strings become its labels and `endpoint_addr_weight` its weight;
 * `neg` means the service does not exist; `failed`, an unreadable answer or a dropped stream keep
 * the last good set and retry with backoff.
 */
import http from 'node:http'
import type { Logger } from '../log.js'
import type { TransportName } from '../config/types.js'
import type { DiscoveryErrorCode } from './codes.js'
import { ServiceFeed } from './feed.js'
import { noopDiscoveryObserver, type DiscoveryObserver } from './observer.js'
import { endpointKey, type DiscoverySource, type DiscoveryUpdate, type Endpoint } from './types.js'

export interface NamerdServiceOptions {
  /** The name namerd resolves, e.g. `/svc/web`. */
  path: string
  /** SPIFFE ID the peers must present; `{address}`, `{port}` are filled in. */
  identity: string
  /** Peer port (default: the port namerd gives). */
  peerPort?: number
  /** Workload address template (default `{address}:{port}`). */
  target?: string
  transport?: TransportName
}

export interface NamerdSourceOptions {
  /** namerd's HTTP interface, e.g. `http://127.0.0.1:4180`. */
  url: string
  /** The dtab namespace (default `default`). */
  namespace?: string
  services: Record<string, NamerdServiceOptions>
  /** First retry after a failure, ms (default 500 ms; doubles up to 30 s). */
  retryMs?: number
}

interface Watch { stop: () => void }

/** Splits a stream of concatenated JSON objects (newlines or not) into whole objects. */
export class JsonObjectSplitter {
  #buffer = ''
  push (text: string): string[] {
    this.#buffer += text
    const out: string[] = []
    let depth = 0
    let inString = false
    let escaped = false
    let start = -1
    let consumed = 0
    for (let i = 0; i < this.#buffer.length; i++) {
      const c = this.#buffer[i]
      if (inString) {
        if (escaped) escaped = false
        else if (c === '\\') escaped = true
        else if (c === '"') inString = false
        continue
      }
      if (c === '"') inString = true
      else if (c === '{') { if (depth++ === 0) start = i } else if (c === '}' && depth > 0 && --depth === 0) { out.push(this.#buffer.slice(start, i + 1)); consumed = i + 1 }
    }
    this.#buffer = this.#buffer.slice(consumed)
    if (this.#buffer.length > 1024 * 1024) this.#buffer = '' // a runaway object: dropped (the next parse fails loudly)
    return out
  }
}

type Reading = { ok: true, endpoints: Endpoint[] | null } | { ok: false, reason: string }

/** One namerd answer → endpoints (null: `neg`, the name does not exist). */
export function readNamerdAnswer (text: string, service: NamerdServiceOptions): Reading {
  let answer: unknown
  try { answer = JSON.parse(text) } catch { return { ok: false, reason: 'not JSON' } }
  const a = answer as { type?: unknown, addrs?: unknown }
  if (a === null || typeof a !== 'object') return { ok: false, reason: 'not an object' }
  if (a.type === 'neg') return { ok: true, endpoints: null }
  if (a.type === 'failed') return { ok: false, reason: 'namerd says the name failed to resolve' }
  if (a.type !== 'bound' || !Array.isArray(a.addrs)) return { ok: false, reason: `type ${String(a.type)} with no addrs list` }
  const endpoints: Endpoint[] = []
  for (const [i, raw] of a.addrs.entries()) {
    const addr = raw as { ip?: unknown, port?: unknown, meta?: unknown }
    if (typeof addr?.ip !== 'string' || typeof addr.port !== 'number' || !Number.isInteger(addr.port) || addr.port < 1 || addr.port > 65535) {
      return { ok: false, reason: `addrs[${i}] has no ip and port` }
    }
    const host = addr.ip.includes(':') ? `[${addr.ip}]` : addr.ip
    const fill = (template: string): string => template.replaceAll('{address}', host).replaceAll('{port}', String(addr.port))
    const peer = { host: addr.ip, port: service.peerPort ?? addr.port }
    const target = fill(service.target ?? '{address}:{port}')
    const labels: Record<string, string> = {}
    let weight = 1
    if (addr.meta !== null && typeof addr.meta === 'object') {
      for (const [k, v] of Object.entries(addr.meta)) {
        if (k === 'endpoint_addr_weight' && Number(v) > 0) weight = Number(v)
        else if (typeof v === 'string') labels[k] = v
      }
    }
    const endpoint: Endpoint = { key: endpointKey(peer, target), peer, identity: fill(service.identity), target, weight, transport: service.transport ?? 'auto' }
    if (Object.keys(labels).length > 0) endpoint.labels = labels
    endpoints.push(endpoint)
  }
  return { ok: true, endpoints }
}

export class NamerdSource implements DiscoverySource {
  readonly name = 'namerd'
  readonly #options: NamerdSourceOptions
  readonly #feed: ServiceFeed
  readonly #watches = new Map<string, Watch>()
  readonly #logger: Logger | undefined
  readonly #observer: DiscoveryObserver
  #closed = false

  constructor (options: NamerdSourceOptions, logger?: Logger, observer: DiscoveryObserver = noopDiscoveryObserver) {
    this.#options = options
    this.#logger = logger
    this.#observer = observer
    this.#feed = new ServiceFeed(this.name, observer)
  }

  watch (service: string, onUpdate: (update: DiscoveryUpdate) => void): () => void {
    const config = this.#options.services[service]
    if (config === undefined) {
      if (this.#feed.current(service) === undefined) this.#feed.publish(service, null)
    } else if (!this.#watches.has(service)) {
      this.#watches.set(service, this.#start(service, config))
    }
    return this.#feed.watch(service, onUpdate)
  }

  #start (service: string, config: NamerdServiceOptions): Watch {
    const first = this.#options.retryMs ?? 500
    let backoff = first
    let req: http.ClientRequest | undefined
    let timer: NodeJS.Timeout | undefined
    let stopped = false
    const url = new URL(`/api/1/resolve/${encodeURIComponent(this.#options.namespace ?? 'default')}`, this.#options.url)
    url.searchParams.set('path', config.path)
    url.searchParams.set('watch', 'true')
    const retry = (code: DiscoveryErrorCode, message: string): void => {
      if (stopped || this.#closed) return
      this.#problem(code, service, message)
      req?.destroy()
      req = undefined
      if (timer !== undefined) return
      timer = setTimeout(() => { timer = undefined; connect() }, backoff)
      backoff = Math.min(30_000, backoff * 2)
    }
    const connect = (): void => {
      if (stopped || this.#closed) return
      const splitter = new JsonObjectSplitter()
      req = http.get(url, { headers: { accept: 'application/json' } }, (res) => {
        if (res.statusCode !== 200) {
          res.resume()
          retry('E_DISCOVERY_NAMERD_HTTP', `namerd answered ${res.statusCode ?? 0} for ${config.path}`)
          return
        }
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          for (const text of splitter.push(chunk)) {
            const reading = readNamerdAnswer(text, config)
            if (!reading.ok) { this.#problem('E_DISCOVERY_NAMERD_FAILED', service, reading.reason); continue }
            backoff = first
            this.#feed.publish(service, reading.endpoints)
          }
        })
        res.on('end', () => retry('E_DISCOVERY_NAMERD_HTTP', `namerd ended the watch of ${config.path}`))
        res.on('error', (err) => retry('E_DISCOVERY_NAMERD_HTTP', err.message))
      })
      req.on('error', (err) => retry('E_DISCOVERY_NAMERD_HTTP', `cannot reach namerd at ${this.#options.url}: ${err.message}`))
    }
    connect()
    return {
      stop: () => {
        stopped = true
        if (timer !== undefined) clearTimeout(timer)
        req?.destroy()
      },
    }
  }

  #problem (code: DiscoveryErrorCode, service: string, message: string): void {
    this.#observer.error(this.name, code)
    this.#logger?.warn({ code, service }, message)
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const w of this.#watches.values()) w.stop()
    this.#watches.clear()
    this.#feed.close()
  }
}
