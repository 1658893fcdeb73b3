/**
 * Which transport carries traffic to an endpoint. `h2` and `h3` are fixed; `auto` races h3 against
 * h2 happy-eyeballs style (RFC 8305 §5, applied to transports): h3 first, h2 joins after a short
 * head start, the first session up carries the request. What worked is remembered per peer: after
 * h3 fails (UDP blocked, no h3 listener, handshake refused) the peer stays on h2 for a while, then
 * h3 is tried again. The selector only picks and remembers; pooling stays in SessionPool.
 */
import type { Logger } from 'pino'
import type { Endpoint } from '../discovery/types.js'
import type { Readable } from 'node:stream'
import type { Socket } from 'node:net'
import { MeshError, toMeshError } from '../../core/errors.js'
import type {
  PeerAddress, PeerResponse, PeerSession, PeerTunnel, RequestHead, SessionStats, SplicedTunnel, SpliceTunnelOptions, StreamOptions, Transport,
} from '../../transports/contract.js'
import type { TransportRegistry } from '../../transports/registry.js'
import { isUnprocessedRefusal } from '../../transports/stream-errors.js'
import type { SessionPool } from './session-pool.js'

/** Reports one fallback: `from` failed for a peer and `to` carries its traffic instead. */
export type FallbackHook = (from: string, to: string, reason: string) => void

export interface SelectionOptions {
  /** h3's head start before h2 joins the race, ms (default 150 ms). */
  headStartMs?: number
  /** After h3 failed to a peer, stay on h2 this long before trying h3 again, ms (default 5 min). */
  retryH3Ms?: number
  /** Called once per h3 failure that sent a peer to h2 (the `meshgate_transport_fallbacks_total` counter). */
  onFallback?: FallbackHook
  logger?: Pick<Logger, 'info' | 'debug'>
  /** Clock, ms (tests). */
  now?: () => number
}

/** What the selector knows about one peer (address + expected identity). */
interface PeerMemory {
  /** h3 is not tried before this time (ms since the epoch); 0 = try it. */
  h2Until: number
  /** An h3 dial started by a race that h2 won; later requests go to h2 without a head start. */
  h3Pending: Promise<unknown> | undefined
  /** The transport that carried the peer's last session. */
  last: 'h2' | 'h3' | undefined
}

const DEFAULT_HEAD_START_MS = 150
const DEFAULT_RETRY_H3_MS = 5 * 60_000
/** Peers remembered before those with nothing worth keeping are forgotten. */
const MAX_REMEMBERED_PEERS = 10_000

export class TransportSelector {
  readonly #registry: TransportRegistry
  readonly #pool: SessionPool
  readonly #peers = new Map<string, PeerMemory>()
  readonly #headStartMs: number
  readonly #retryH3Ms: number
  readonly #onFallback: FallbackHook | undefined
  readonly #logger: Pick<Logger, 'info' | 'debug'> | undefined
  readonly #now: () => number

  constructor (registry: TransportRegistry, pool: SessionPool, options: SelectionOptions = {}) {
    this.#registry = registry
    this.#pool = pool
    this.#headStartMs = options.headStartMs ?? DEFAULT_HEAD_START_MS
    this.#retryH3Ms = options.retryH3Ms ?? DEFAULT_RETRY_H3_MS
    this.#onFallback = options.onFallback
    this.#logger = options.logger
    this.#now = options.now ?? Date.now
  }

  /** The transport an endpoint names outright; `auto` is h3 when this build has it, else h2. */
  preferred (endpoint: Endpoint): Transport {
    if (endpoint.transport !== 'auto') return this.#registry.get(endpoint.transport)
    return this.#registry.get(this.#registry.has('h3') ? 'h3' : 'h2')
  }

  /**
   * A pooled session for the endpoint; rejects with a MeshError. A stream the session refuses
   * unprocessed because it is going away (a request racing the peer's GOAWAY, RFC 9114 §5.2 /
   * RFC 9113 §6.8) is sent once more on a fresh pick, so a peer closing a transport loses no request.
   */
  async session (endpoint: Endpoint): Promise<PeerSession> {
    return new ReroutingSession(await this.pick(endpoint), this, endpoint)
  }

  /**
   * session() without waiting: a pooled session with room when the endpoint's transport is fixed
   * (or `auto` resolves to h2 in a build without h3); undefined when session() has to dial, race
   * or queue. Not wrapped for rerouting (a wrapper and an async call per request): the caller
   * sends a stream refused by a closing session once more itself (on a session from pick()), when
   * mayResend() says so, as session()'s wrapper does.
   */
  readySession (endpoint: Endpoint): PeerSession | undefined {
    if (endpoint.transport === 'auto' && this.#registry.has('h3')) return undefined
    return this.#pool.tryGet(this.preferred(endpoint), endpoint.peer, endpoint.identity)
  }

  /**
   * Warm-up: a session on the endpoint's preferred transport (SessionPool.warm: no backoff left by
   * a failure, no h2/h3 race and nothing remembered about the peer's transports).
   */
  async warm (endpoint: Endpoint, signal: AbortSignal): Promise<PeerSession> {
    return await this.#pool.warm(this.preferred(endpoint), endpoint.peer, endpoint.identity, signal)
  }

  /** A pooled session for the endpoint, without the rerouting wrapper. */
  async pick (endpoint: Endpoint): Promise<PeerSession> {
    if (endpoint.transport !== 'auto' || !this.#registry.has('h3')) {
      return await this.#get(this.preferred(endpoint), endpoint)
    }
    const key = `${endpoint.peer.host}|${endpoint.peer.port}|${endpoint.identity}`
    let memory = this.#peers.get(key)
    if (memory === undefined) {
      if (this.#peers.size >= MAX_REMEMBERED_PEERS) this.#forgetIdle()
      memory = { h2Until: 0, h3Pending: undefined, last: undefined }
      this.#peers.set(key, memory)
    }
    if (this.#now() < memory.h2Until || memory.h3Pending !== undefined) {
      return await this.#get(this.#registry.get('h2'), endpoint)
    }
    return await this.#race(memory, endpoint)
  }

  /** Drops what is known of peers that are neither held on h2 nor dialling (endpoints churn). */
  #forgetIdle (): void {
    const now = this.#now()
    for (const [key, m] of this.#peers) {
      if (now >= m.h2Until && m.h3Pending === undefined) this.#peers.delete(key)
    }
  }

  /** The peers currently held on h2 after an h3 failure (for the admin view and tests). */
  heldOnH2 (): string[] {
    const now = this.#now()
    return [...this.#peers].filter(([, m]) => now < m.h2Until).map(([key]) => key)
  }

  async #race (memory: PeerMemory, endpoint: Endpoint): Promise<PeerSession> {
    const h3 = this.#get(this.#registry.get('h3'), endpoint)
    const settledH3 = h3.then((session) => {
      this.#remember(memory, endpoint, 'h3')
      return session
    }, (err: unknown) => {
      this.#fellBack(memory, endpoint, err)
      throw err
    })
    settledH3.catch(() => {})
    let timer: NodeJS.Timeout | undefined
    const headStart = new Promise<'head-start'>((resolve) => { timer = setTimeout(() => resolve('head-start'), this.#headStartMs) })
    try {
      const first = await Promise.race([settledH3, headStart])
      if (first !== 'head-start') return first
    } catch {
      // h3 failed within its head start: h2 alone, at once.
      try {
        return await this.#get(this.#registry.get('h2'), endpoint)
      } catch (err) {
        this.#peerDown(memory)
        throw err
      }
    } finally {
      clearTimeout(timer)
    }
    // The head start is over and h3 is still dialling: h2 joins, the first session up wins.
    memory.h3Pending = settledH3
    settledH3.then(() => { memory.h3Pending = undefined }, () => { memory.h3Pending = undefined })
    const h2 = this.#get(this.#registry.get('h2'), endpoint)
    try {
      return await Promise.any([settledH3, h2.then((session) => {
        this.#remember(memory, endpoint, 'h2')
        return session
      })])
    } catch (err) {
      // Both failed: report h2's reason (the transport every peer has).
      this.#peerDown(memory)
      throw toMeshError((err as AggregateError).errors[1] ?? err, 'E_PEER_UNREACHABLE')
    }
  }

  async #get (transport: Transport, endpoint: Endpoint): Promise<PeerSession> {
    return await this.#pool.get(transport, endpoint.peer, endpoint.identity)
  }

  /**
   * h3 and h2 both failed: the peer is down (or not up yet), which says nothing about UDP, so it is
   * not held on h2; the next dial races h3 again.
   */
  #peerDown (memory: PeerMemory): void {
    memory.h2Until = 0
  }

  #remember (memory: PeerMemory, endpoint: Endpoint, transport: 'h2' | 'h3'): void {
    if (transport === 'h3') memory.h2Until = 0
    if (memory.last !== transport) {
      this.#logger?.info({ peer: `${endpoint.peer.host}:${endpoint.peer.port}`, identity: endpoint.identity, transport }, `auto endpoint: traffic now over ${transport}`)
    }
    memory.last = transport
  }

  #fellBack (memory: PeerMemory, endpoint: Endpoint, err: unknown): void {
    const code = toMeshError(err, 'E_PEER_UNREACHABLE').code
    const now = this.#now()
    // Concurrent races share one dial (the pool's): its failure is one fallback, not one per request.
    if (now < memory.h2Until) return
    memory.h2Until = now + this.#retryH3Ms
    this.#onFallback?.('h3', 'h2', code)
    this.#logger?.info({
      peer: `${endpoint.peer.host}:${endpoint.peer.port}`, identity: endpoint.identity, code, retryInMs: this.#retryH3Ms,
    }, 'auto endpoint: h3 failed, using h2')
  }
}

/**
 * A PeerSession that sends a refused stream once more on another session when the refusal came
 * from the session going away (closing, GOAWAY): then the peer never processed it (RFC 9114 §4.1.1,
 * RFC 9113 §8.7). A request body already read from is never replayed.
 */
class ReroutingSession implements PeerSession {
  #session: PeerSession
  readonly #selector: TransportSelector
  readonly #endpoint: Endpoint

  constructor (session: PeerSession, selector: TransportSelector, endpoint: Endpoint) {
    this.#session = session
    this.#selector = selector
    this.#endpoint = endpoint
  }

  get transport (): string { return this.#session.transport }
  get peerIdentity (): string { return this.#session.peerIdentity }
  get remote (): PeerAddress { return this.#session.remote }
  get available (): boolean { return this.#session.available }
  get streamCapacity (): number { return this.#session.streamCapacity }
  get closed (): boolean { return this.#session.closed }

  async request (head: RequestHead, body: Readable | null, options?: StreamOptions): Promise<PeerResponse> {
    try {
      return await this.#session.request(head, body, options)
    } catch (err) {
      if (!mayResend(err, this.#session, body)) throw err
      this.#session = await this.#selector.pick(this.#endpoint)
      return await this.#session.request(head, body, options)
    }
  }

  async tunnel (head: RequestHead, options?: StreamOptions): Promise<PeerTunnel> {
    try {
      return await this.#session.tunnel(head, options)
    } catch (err) {
      // Before a 2xx no byte of the tunnel has moved: a refusal by a closing session is safe to redo.
      if (!this.#unprocessed(err)) throw err
      this.#session = await this.#selector.pick(this.#endpoint)
      return await this.#session.tunnel(head, options)
    }
  }

  /**
   * The wrapped session's native splice, when it has one (so wrapping never turns splicing off).
   * A refusal before the engine took the socket (the session was going away) is redone on a
   * fresh pick; once the socket is handed over it cannot be, and the refusal stands.
   */
  get spliceTunnel (): ((head: RequestHead, socket: Socket, options: SpliceTunnelOptions) => Promise<SplicedTunnel>) | undefined {
    if (this.#session.spliceTunnel === undefined) return undefined
    return async (head, socket, options) => {
      const splice = this.#session.spliceTunnel
      if (splice === undefined) throw new MeshError('E_INTERNAL', 'the session no longer splices tunnels')
      try {
        return await splice(head, socket, options)
      } catch (err) {
        if (!this.#unprocessed(err) || socket.destroyed) throw err
        this.#session = await this.#selector.pick(this.#endpoint)
        const again = this.#session.spliceTunnel
        if (again === undefined) throw err
        return await again(head, socket, options)
      }
    }
  }

  stats (): SessionStats { return this.#session.stats() }
  async close (): Promise<void> { await this.#session.close() }
  destroy (err?: Error): void { this.#session.destroy(err) }
  onClose (listener: (err?: Error) => void): void { this.#session.onClose(listener) }

  #unprocessed (err: unknown): boolean {
    return refusedUnprocessed(err, this.#session)
  }
}

/**
 * True when the peer did not process a stream that failed with `err` on `session`: it refused it
 * as unprocessed (REFUSED_STREAM, H3_REQUEST_REJECTED: RFC 9113 §8.7, RFC 9114 §4.1.1), or the
 * session refused it because it is going away (closing, GOAWAY). Then it may be sent once more,
 * as the native data path does (native/engine/src/app-http1.cc OnRelayClosed).
 */
export function refusedUnprocessed (err: unknown, session: PeerSession): boolean {
  if (!(err instanceof MeshError) || err.code !== 'E_PEER_REFUSED') return false
  return isUnprocessedRefusal(err) || session.closed || !session.available
}

/**
 * True when a request that failed with `err` on `session` may be sent once more: the session
 * refused it unprocessed, and no byte of its body has been read (so the body can still be sent).
 */
export function mayResend (err: unknown, session: PeerSession, body: Readable | null): boolean {
  return refusedUnprocessed(err, session) && !(body !== null && body.readableDidRead)
}

const selectorSettings = new WeakMap<TransportRegistry, SelectionOptions>()
const selectors = new WeakMap<SessionPool, TransportSelector>()

/**
 * Sets how `auto` endpoints choose for every outbound role built on `registry` (the proxy calls
 * it once at start, with the config's h3 section and the fallback metric).
 */
export function configureSelection (registry: TransportRegistry, options: SelectionOptions): void {
  selectorSettings.set(registry, options)
}

/** The selector of one outbound role (one per session pool), built on first use. */
export function selectorFor (registry: TransportRegistry, pool: SessionPool): TransportSelector {
  let selector = selectors.get(pool)
  if (selector === undefined) {
    selector = new TransportSelector(registry, pool, selectorSettings.get(registry))
    selectors.set(pool, selector)
  }
  return selector
}
