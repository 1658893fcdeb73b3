// The `dns` source: A/AAAA or SRV lookups per service, refreshed as the answers' TTLs allow.
import { Resolver } from 'node:dns/promises'
import type { TransportName } from '../config/types.js'
import { MeshError } from '../../core/errors.js'
import type { Logger } from '../log.js'
import type { DiscoveryErrorCode } from './codes.js'
import { ServiceFeed } from './feed.js'
import { noopDiscoveryObserver, type DiscoveryObserver } from './observer.js'
import { endpointKey, type DiscoverySource, type DiscoveryUpdate, type Endpoint } from './types.js'

export type DnsRecordType = 'A' | 'AAAA' | 'A+AAAA' | 'SRV'

/** How one service is found in DNS and what its endpoints look like. */
export interface DnsServiceOptions {
  /** Name to look up: `web.mesh.internal`, or for SRV `_meshgate._tcp.web.mesh.internal`. */
  name: string
  /** `A`, `AAAA`, both (`A+AAAA`), or `SRV` (its targets are then looked up as A, else AAAA). */
  type: DnsRecordType
  /** Peer proxy port for A/AAAA answers (required for them); SRV answers carry their own. */
  port?: number
  /** SPIFFE ID the peers must present; a template like `target`. */
  identity: string
  /**
   * Workload address the peer delivers to. Template: `{address}` the peer's IP, `{port}` the
   * peer's port, `{host}` the SRV target (or the looked-up name). Default `{address}:{port}`.
   */
  target?: string
  /** Weight of every endpoint (default 1); SRV records use their own weight (0 counts as 1). */
  weight?: number
  /** Preferred transport (default `auto`). */
  transport?: TransportName
  zone?: string
}

export interface DnsSourceOptions {
  /** DNS servers `ip` or `ip:port` (default: the system's). */
  servers?: string[]
  services: Record<string, DnsServiceOptions>
  /** Shortest refresh interval whatever the TTL says, ms (default 1 s). */
  minRefreshMs?: number
  /** Longest refresh interval whatever the TTL says, ms (default 5 min). */
  maxRefreshMs?: number
  /** TTL assumed for SRV answers (Node does not report theirs), ms (default 30 s). */
  srvTtlMs?: number
  /** Retry interval after a failed or empty lookup, ms (default 5 s), within min/max. */
  retryMs?: number
  /** Per-try timeout of the resolver, ms (default 2 s). */
  timeoutMs?: number
  /** Tries per lookup (default 2). */
  tries?: number
}

export const DNS_SOURCE_DEFAULTS = {
  minRefreshMs: 1_000, // 1 s
  maxRefreshMs: 300_000, // 5 min
  srvTtlMs: 30_000, // 30 s
  retryMs: 5_000, // 5 s
  timeoutMs: 2_000, // 2 s
  tries: 2,
} as const

/** A TTL in seconds as the next refresh delay, ms, bounded by [min, max]. */
export function refreshDelayMs (ttlSeconds: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, Math.max(minMs, ttlSeconds * 1000))
}

/** Fills `{address}`, `{port}`, `{host}` in a template. */
export function fillTemplate (template: string, values: { address: string, port: number, host: string }): string {
  return template
    .replaceAll('{address}', values.address.includes(':') ? `[${values.address}]` : values.address)
    .replaceAll('{port}', String(values.port))
    .replaceAll('{host}', values.host)
}

interface Found { address: string, port: number, host: string, weight: number }
interface Answer { found: Found[], ttlSeconds: number }

const EMPTY_CODES = new Set(['ENODATA', 'ENOTFOUND'])

/** A lookup that found nothing (NODATA/NXDOMAIN), as opposed to one that failed. */
class EmptyAnswer extends Error {}

/**
 * One refresh loop per configured service. A good answer replaces the set and schedules the
 * next lookup at its lowest TTL (bounded by min/max); a failure or an empty answer keeps the
 * previous set, logs E_DISCOVERY_DNS_FAILED / E_DISCOVERY_DNS_EMPTY and retries after `retryMs`.
 * A name that is empty on its first lookup `doesNotExist` until it appears.
 */
export class DnsSource implements DiscoverySource {
  readonly name = 'dns'
  private readonly feed: ServiceFeed
  private readonly resolver: Resolver
  private readonly timers = new Map<string, NodeJS.Timeout>()
  private readonly inFlight = new Set<Promise<void>>()
  private readonly o: Required<Omit<DnsSourceOptions, 'servers' | 'services'>>
  private closed = false

  constructor (private readonly options: DnsSourceOptions, private readonly logger?: Logger, private readonly observer: DiscoveryObserver = noopDiscoveryObserver) {
    this.feed = new ServiceFeed(this.name, observer)
    this.o = {
      minRefreshMs: options.minRefreshMs ?? DNS_SOURCE_DEFAULTS.minRefreshMs,
      maxRefreshMs: options.maxRefreshMs ?? DNS_SOURCE_DEFAULTS.maxRefreshMs,
      srvTtlMs: options.srvTtlMs ?? DNS_SOURCE_DEFAULTS.srvTtlMs,
      retryMs: options.retryMs ?? DNS_SOURCE_DEFAULTS.retryMs,
      timeoutMs: options.timeoutMs ?? DNS_SOURCE_DEFAULTS.timeoutMs,
      tries: options.tries ?? DNS_SOURCE_DEFAULTS.tries,
    }
    this.resolver = new Resolver({ timeout: this.o.timeoutMs, tries: this.o.tries })
    if (options.servers !== undefined) this.resolver.setServers(options.servers)
    for (const [service, config] of Object.entries(options.services)) {
      if (config.type !== 'SRV' && config.port === undefined) throw new MeshError('E_CONFIG', `dns discovery: service ${service} looks up ${config.type} records and needs a port`)
      this.refresh(service)
    }
  }

  watch (service: string, onUpdate: (update: DiscoveryUpdate) => void): () => void {
    if (this.options.services[service] === undefined) this.feed.publish(service, null)
    return this.feed.watch(service, onUpdate)
  }

  /** Looks a service up now instead of at its next scheduled time; resolves when applied. */
  refresh (service: string): Promise<void> {
    const config = this.options.services[service]
    if (config === undefined || this.closed) return Promise.resolve()
    clearTimeout(this.timers.get(service))
    this.timers.delete(service)
    const run = this.lookup(service, config).finally(() => { this.inFlight.delete(run) })
    this.inFlight.add(run)
    return run
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const timer of this.timers.values()) clearTimeout(timer)
    this.timers.clear()
    this.resolver.cancel()
    this.feed.close()
    await Promise.allSettled([...this.inFlight])
  }

  private async lookup (service: string, config: DnsServiceOptions): Promise<void> {
    let delay = this.o.retryMs
    try {
      const answer = config.type === 'SRV' ? await this.resolveSrv(config.name) : await this.resolveHosts(config.name, config.type, config.port as number)
      if (this.closed) return
      if (answer.found.length === 0) throw new EmptyAnswer(`no records for ${config.name}`)
      this.feed.publish(service, answer.found.map((f) => this.toEndpoint(config, f)))
      delay = refreshDelayMs(answer.ttlSeconds, this.o.minRefreshMs, this.o.maxRefreshMs)
    } catch (err) {
      if (this.closed) return
      const empty = err instanceof EmptyAnswer || EMPTY_CODES.has((err as { code?: string }).code ?? '')
      const code: DiscoveryErrorCode = empty ? 'E_DISCOVERY_DNS_EMPTY' : 'E_DISCOVERY_DNS_FAILED'
      this.observer.error(this.name, code)
      const kept = this.feed.current(service)
      if (empty && (kept === undefined || kept === null)) this.feed.publish(service, null)
      this.logger?.error({ code, service, name: config.name, type: config.type, err: (err as Error).message, kept: kept?.length ?? 0 }, 'dns lookup gave no usable answer, previous set kept')
      delay = Math.min(this.o.maxRefreshMs, Math.max(this.o.minRefreshMs, this.o.retryMs))
    }
    if (this.closed) return
    const timer = setTimeout(() => { this.refresh(service).catch(() => {}) }, delay)
    timer.unref()
    this.timers.set(service, timer)
  }

  private async resolveHosts (name: string, type: 'A' | 'AAAA' | 'A+AAAA', port: number): Promise<Answer> {
    const lookups: Array<Promise<Array<{ address: string, ttl: number }>>> = []
    if (type !== 'AAAA') lookups.push(this.resolver.resolve4(name, { ttl: true }))
    if (type !== 'A') lookups.push(this.resolver.resolve6(name, { ttl: true }))
    const settled = await Promise.allSettled(lookups)
    const records = settled.flatMap((s) => (s.status === 'fulfilled' ? s.value : []))
    // With both families asked, one empty family is normal; fail only when neither answered.
    if (records.length === 0) {
      const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected' && !EMPTY_CODES.has((s.reason as { code?: string }).code ?? ''))
      if (failure !== undefined) throw failure.reason
      throw new EmptyAnswer(`no ${type} records for ${name}`)
    }
    return {
      found: records.map((r) => ({ address: r.address, port, host: name, weight: 1 })),
      ttlSeconds: Math.min(...records.map((r) => r.ttl)),
    }
  }

  private async resolveSrv (name: string): Promise<Answer> {
    const records = await this.resolver.resolveSrv(name)
    if (records.length === 0) return { found: [], ttlSeconds: 0 }
    // RFC 2782: only the lowest priority present is used; weight shares the load within it.
    const priority = Math.min(...records.map((r) => r.priority))
    const chosen = records.filter((r) => r.priority === priority)
    let ttlSeconds = this.o.srvTtlMs / 1000
    const found: Found[] = []
    for (const record of chosen) {
      const addresses = await this.addressesOf(record.name)
      for (const a of addresses) {
        ttlSeconds = Math.min(ttlSeconds, a.ttl)
        found.push({ address: a.address, port: record.port, host: record.name, weight: Math.max(1, record.weight) })
      }
    }
    return { found, ttlSeconds }
  }

  /** An SRV target's addresses: A, else AAAA, else the name itself (the transport resolves it). */
  private async addressesOf (host: string): Promise<Array<{ address: string, ttl: number }>> {
    for (const family of [4, 6] as const) {
      try {
        const records = family === 4 ? await this.resolver.resolve4(host, { ttl: true }) : await this.resolver.resolve6(host, { ttl: true })
        if (records.length > 0) return records
      } catch {}
    }
    return [{ address: host, ttl: this.o.srvTtlMs / 1000 }]
  }

  private toEndpoint (config: DnsServiceOptions, found: Found): Endpoint {
    const peer = { host: found.address, port: found.port }
    const target = fillTemplate(config.target ?? '{address}:{port}', found)
    const endpoint: Endpoint = {
      key: endpointKey(peer, target),
      peer,
      identity: fillTemplate(config.identity, found),
      target,
      weight: config.type === 'SRV' ? found.weight : config.weight ?? 1,
      transport: config.transport ?? 'auto',
    }
    if (config.zone !== undefined) endpoint.zone = config.zone
    return endpoint
  }
}
