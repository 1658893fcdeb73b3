// PeerSession over one node:http2 client session: streams, availability, stats, lifecycle.
import type { ClientHttp2Session } from 'node:http2'
import type { Readable } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { MeshError } from '../../core/errors.js'
import type {
  PeerAddress, PeerResponse, PeerSession, PeerTunnel, RequestHead, ResponseTarget, SessionStats, StreamOptions,
  TransportLogger, TransportObserver,
} from '../contract.js'
import { failSoon, sendRequest, sendRequestTo } from './client-request.js'
import { openTunnel, type StreamCounter } from './client-stream.js'
import { startKeepAlive } from './keepalive.js'
import type { ResolvedH2Options } from './options.js'

const NO_OPTIONS: StreamOptions = Object.freeze({})

/** What H2PeerSession needs besides the connected session. */
export interface H2PeerSessionInit {
  session: ClientHttp2Session
  socket: TLSSocket
  peerIdentity: string
  remote: PeerAddress
  options: ResolvedH2Options
  logger: TransportLogger
  observer: TransportObserver | undefined
}

/**
 * One authenticated HTTP/2 session to a peer proxy. Streams open on demand; the core pools
 * sessions and asks `available` before using one.
 */
export class H2PeerSession implements PeerSession {
  readonly transport = 'h2'
  readonly peerIdentity: string
  readonly remote: PeerAddress
  readonly #session: ClientHttp2Session
  readonly #socket: TLSSocket
  readonly #logger: TransportLogger
  readonly #observer: TransportObserver | undefined
  readonly #closeListeners: Array<(err?: Error) => void> = []
  readonly #gone: Promise<void>
  #closing = false
  #goawayReceived = false
  #isGone = false
  #closeError: Error | undefined
  #openStreams = 0
  #totalStreams = 0
  #rttSeconds: number | undefined

  constructor (init: H2PeerSessionInit) {
    this.peerIdentity = init.peerIdentity
    this.remote = init.remote
    this.#session = init.session
    this.#socket = init.socket
    this.#logger = init.logger
    this.#observer = init.observer
    const session = init.session

    session.on('error', (err) => {
      if (err === this.#closeError) return // our own destroy(err): the caller knows
      this.#closeError ??= err instanceof MeshError ? err : new MeshError('E_PEER_RESET', `session with ${this.peerIdentity} failed: ${err.message}`, { cause: err })
      this.#logger.warn({ err, code: this.#closeError instanceof MeshError ? this.#closeError.code : undefined }, 'h2 session error')
    })
    session.on('goaway', (errorCode, lastStreamID) => {
      this.#goawayReceived = true
      this.#logger.debug({ errorCode, lastStreamID }, 'h2 GOAWAY received')
    })
    this.#gone = new Promise((resolve) => {
      session.once('close', () => {
        if (!this.#closing && !this.#goawayReceived) {
          // Neither side asked for it (no close(), no GOAWAY): the connection was lost.
          this.#closeError ??= new MeshError('E_PEER_RESET', `connection to ${this.peerIdentity} was lost`)
        }
        this.#isGone = true
        this.#closing = true
        this.#observer?.sessionClosed?.('h2', 'client')
        this.#logger.debug({ err: this.#closeError }, 'h2 session closed')
        for (const listener of this.#closeListeners.splice(0)) listener(this.#closeError)
        resolve()
      })
    })
    const stopKeepAlive = startKeepAlive(session, {
      intervalMs: init.options.keepAliveMs,
      timeoutMs: init.options.keepAliveTimeoutMs,
      onRtt: (seconds) => {
        this.#rttSeconds = seconds
        this.#observer?.rtt?.('h2', seconds)
      },
      onDead: (err) => {
        this.#logger.warn({ code: err.code }, err.message)
        this.destroy(err)
      },
    })
    session.once('close', stopKeepAlive)
    this.#observer?.sessionOpened?.('h2', 'client')
  }

  /** False once closing, after a GOAWAY, or while open streams reach the peer's SETTINGS_MAX_CONCURRENT_STREAMS. */
  get available (): boolean {
    return this.streamCapacity > 0
  }

  get streamCapacity (): number {
    if (this.#closing || this.#goawayReceived || this.#session.closed || this.#session.destroyed) return 0
    const limit = this.#session.remoteSettings.maxConcurrentStreams ?? Number.POSITIVE_INFINITY
    return Math.max(0, limit - this.#openStreams)
  }

  get closed (): boolean {
    return this.#isGone || this.#session.destroyed
  }

  // Not async: one promise per request, the one sendRequest makes.
  request (head: RequestHead, body: Readable | null, options: StreamOptions = NO_OPTIONS): Promise<PeerResponse> {
    if (!this.#open) return Promise.reject(this.#refusal(head))
    return sendRequest(this.#session, head, body, options, this.#counter)
  }

  requestTo (head: RequestHead, body: Readable | null, options: StreamOptions, to: ResponseTarget): void {
    if (!this.#open) failSoon(to, this.#refusal(head))
    else sendRequestTo(this.#session, head, body, options, this.#counter, to)
  }

  async tunnel (head: RequestHead, options: StreamOptions = NO_OPTIONS): Promise<PeerTunnel> {
    if (!this.#open) throw this.#refusal(head)
    return await openTunnel(this.#session, head, options, this.#counter)
  }

  stats (): SessionStats {
    return {
      openStreams: this.#openStreams,
      totalStreams: this.#totalStreams,
      rttSeconds: this.#rttSeconds,
      bytesSent: this.#socket.bytesWritten,
      bytesReceived: this.#socket.bytesRead,
    }
  }

  /** Sends GOAWAY (RFC 9113 §6.8) and resolves once every open stream has finished. */
  async close (): Promise<void> {
    this.#closing = true
    if (!this.#session.closed && !this.#session.destroyed) this.#session.close()
    await this.#gone
  }

  destroy (err?: Error): void {
    this.#closing = true
    if (err !== undefined) this.#closeError ??= err
    if (!this.#session.destroyed) this.#session.destroy(err)
  }

  onClose (listener: (err?: Error) => void): void {
    if (this.#isGone) queueMicrotask(() => listener(this.#closeError))
    else this.#closeListeners.push(listener)
  }

  get #open (): boolean {
    return !(this.#closing || this.#goawayReceived || this.#session.closed || this.#session.destroyed)
  }

  #refusal (head: RequestHead): MeshError {
    return new MeshError('E_PEER_REFUSED', `session with ${this.peerIdentity} takes no new streams (closing) for ${head.authority}`)
  }

  readonly #counter: StreamCounter = {
    opened: () => {
      this.#openStreams++
      this.#totalStreams++
      this.#observer?.streamOpened?.('h2', 'client')
    },
    closed: () => {
      this.#openStreams--
      this.#observer?.streamClosed?.('h2', 'client')
    },
  }
}
