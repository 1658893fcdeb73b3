// PeerSession over one QUIC connection carrying HTTP/3: streams, availability, stats, lifecycle.
import type { Socket } from 'node:net'
import type { Readable } from 'node:stream'
import type { QuicSession, QuicStream } from '../../native/quic.js'
import { MeshError } from '../../core/errors.js'
import type {
  PeerAddress, PeerResponse, PeerSession, PeerTunnel, RequestHead, SessionStats, SplicedTunnel, SpliceTunnelOptions, StreamOptions,
  QuicPathObserver, TransportLogger, TransportObserver,
} from '../contract.js'
import { openStream, openTunnel, sendRequest } from './client-stream.js'
import type { ResolvedH3Options } from './options.js'
import { QuicCounters } from './quic-counters.js'
import { openSplicedTunnel } from './spliced-tunnel.js'

/** What H3PeerSession needs besides the connected session. */
export interface H3PeerSessionInit {
  session: QuicSession
  remote: PeerAddress
  options: ResolvedH3Options
  logger: TransportLogger
  observer: (TransportObserver & QuicPathObserver) | undefined
  /**
   * The transport's name in metrics and logs: `h3` (default), or `h2` when the session is the
   * native h2 engine's, which has the same binding shape and no QUIC recovery state to sample.
   */
  transport?: 'h3' | 'h2'
  /** Whether tunnels may be spliced natively when the binding can (default true). */
  splice?: boolean
}

/**
 * One authenticated HTTP/3 session to a peer proxy. Streams open on demand; the core pools
 * sessions and asks `available` before using one.
 */
export class H3PeerSession implements PeerSession {
  readonly transport: 'h3' | 'h2'
  /** Present when the binding splices sockets natively (the h2 engine, the QUIC addon) and splicing is on. */
  readonly spliceTunnel: ((head: RequestHead, socket: Socket, options: SpliceTunnelOptions) => Promise<SplicedTunnel>) | undefined
  readonly peerIdentity: string
  readonly remote: PeerAddress
  readonly #session: QuicSession
  readonly #logger: TransportLogger
  readonly #observer: TransportObserver | undefined
  readonly #closeListeners: Array<(err?: Error) => void> = []
  readonly #counters: QuicCounters
  #closing = false
  #isGone = false
  #closeError: Error | undefined
  #openStreams = 0
  #totalStreams = 0

  constructor (init: H3PeerSessionInit) {
    const session = init.session
    this.transport = init.transport ?? 'h3'
    this.spliceTunnel = init.splice === false || session.endpoint.spliceFd === undefined
      ? undefined
      : async (head, socket, options) => {
        this.#checkOpen(head)
        return await openSplicedTunnel(this.#open, head, socket, options, this.#track)
      }
    this.#session = session
    this.peerIdentity = session.peerIdentity
    this.remote = init.remote
    this.#logger = init.logger
    this.#observer = init.observer
    this.#counters = new QuicCounters(session, init.observer, init.options.keepAliveMs, this.transport)
    session.on('goaway', (code: number) => this.#logger.debug({ code }, 'GOAWAY received'))
    session.once('close', (err?: Error) => {
      if (err !== undefined) {
        // Neither side asked for it: the peer closed with an error, or the connection was lost.
        this.#closeError ??= new MeshError('E_PEER_RESET', `session with ${this.peerIdentity} failed: ${err.message}`, { cause: err })
      }
      this.#isGone = true
      this.#closing = true
      this.#counters.stop()
      this.#observer?.sessionClosed?.(this.transport, 'client')
      this.#logger.debug({ err: this.#closeError }, 'session closed')
      for (const listener of this.#closeListeners.splice(0)) listener(this.#closeError)
    })
    this.#observer?.sessionOpened?.(this.transport, 'client')
  }

  /** False once closing, after a GOAWAY (RFC 9114 §5.2), or while the peer's MAX_STREAMS is used up. */
  get available (): boolean {
    return !this.#closing && this.#session.available
  }

  /** Streams the peer's MAX_STREAMS credit lets open now (RFC 9000 §4.6); 0 when not available. */
  get streamCapacity (): number {
    // One call into the addon: the pool asks this for every request.
    return this.#closing ? 0 : this.#session.streamCapacity
  }

  get closed (): boolean {
    return this.#isGone
  }

  async request (head: RequestHead, body: Readable | null, options: StreamOptions = {}): Promise<PeerResponse> {
    this.#checkOpen(head)
    return await sendRequest(this.#open, head, body, options, this.#track)
  }

  async tunnel (head: RequestHead, options: StreamOptions = {}): Promise<PeerTunnel> {
    this.#checkOpen(head)
    return await openTunnel(this.#open, head, options, this.#track)
  }

  stats (): SessionStats {
    const quic = this.#session.stats()
    return {
      openStreams: this.#openStreams,
      totalStreams: this.#totalStreams,
      rttSeconds: quic === undefined || quic.smoothedRttMs <= 0 ? undefined : quic.smoothedRttMs / 1000,
      bytesSent: quic?.bytesSent ?? 0,
      bytesReceived: quic?.bytesReceived ?? 0,
    }
  }

  /** Sends GOAWAY (RFC 9114 §5.2) and resolves once every open stream has finished. */
  async close (): Promise<void> {
    this.#closing = true
    await this.#session.close()
  }

  destroy (err?: Error): void {
    this.#closing = true
    if (err !== undefined) this.#closeError ??= err
    this.#session.destroy(err)
  }

  onClose (listener: (err?: Error) => void): void {
    if (this.#isGone) queueMicrotask(() => listener(this.#closeError))
    else this.#closeListeners.push(listener)
  }

  #checkOpen (head: RequestHead): void {
    if (this.#closing || this.#session.closed || this.#session.goingAway) {
      throw new MeshError('E_PEER_REFUSED', `session with ${this.peerIdentity} takes no new streams (closing) for ${head.authority}`)
    }
  }

  /**
   * Opens a stream. The binding refuses once the connection is closing, which it may know a
   * moment before the GOAWAY event reaches us: from then on this session takes no new streams.
   */
  readonly #open = (head: RequestHead, endStream: boolean): QuicStream => {
    try {
      return openStream(this.#session, head, endStream)
    } catch (err) {
      this.#closing = true
      throw err
    }
  }

  readonly #track = (stream: QuicStream): void => {
    this.#openStreams++
    this.#totalStreams++
    this.#observer?.streamOpened?.(this.transport, 'client')
    stream.once('close', () => {
      this.#openStreams--
      this.#observer?.streamClosed?.(this.transport, 'client')
    })
  }
}
