/**
 * A small QUIC/HTTP/3 client and server for Node on top of the meshgate_quic addon: sessions
 * (one QUIC connection each, mutual TLS, the peer's URI SAN as its identity) carrying HTTP/3
 * streams as Duplex streams with backpressure both ways, trailers, resets and GOAWAY.
 * Packets never reach JavaScript; one addon call moves one body chunk (see native/README.md).
 */
import { EventEmitter } from 'node:events'
import { Duplex } from 'node:stream'
import { isIP } from 'node:net'
import { lookup } from 'node:dns/promises'
import {
  DELIVERED_LAYOUT,
  EVENT_KIND,
  loadQuic,
  type EmitFn,
  type EndpointAddress,
  SPLICE_END,
  SPLICE_START,
  type RawEndpoint,
  type RawEndpointOptions,
  type RawStats,
} from './index.js'

/** HTTP/3 error codes used here (RFC 9114 §8.1). */
export const H3_CODES = {
  noError: 0x100,
  internalError: 0x102,
  requestCancelled: 0x10c,
  requestRejected: 0x10b,
  connectError: 0x10f,
} as const

/** Header fields, pseudo-headers included (`:method`, `:status` …); names are lower-case. */
export type QuicHeaders = Record<string, string | string[]>

export interface QuicTlsOptions {
  /** PEM trust root the peer's certificate must chain to. */
  ca: string
  /** PEM certificate chain and key of this side. */
  cert: string
  key: string
}

/** Transport tuning shared by servers and clients; all optional (defaults in RawEndpointOptions). */
export type QuicTuning = Pick<RawEndpointOptions,
'idleTimeoutMs' | 'keepAliveMs' | 'peerSilenceMs' | 'handshakeTimeoutMs' | 'maxStreamData' | 'maxData' |
'sendHighWater' | 'cc' | 'recvBufferSize' | 'sendBufferSize' | 'debug' | 'alpn'>

export interface ServerOptions extends QuicTlsOptions, QuicTuning {
  /** IP literal to bind; default 127.0.0.1. */
  host?: string
  /** 0 (default) picks a free port; read it from `address()`. */
  port?: number
  /** Concurrent request streams per client (default 100). */
  maxStreams?: number
  /** Refuse clients without a certificate (default true). */
  requireClientCert?: boolean
  /** Called for each session once its handshake completed. */
  onSession?: (session: QuicSession) => void
}

export interface ConnectOptions extends QuicTlsOptions, QuicTuning {
  host: string
  port: number
  /** SNI (default: none; the mesh authenticates by URI SAN, not by name). */
  servername?: string
  /** Refuse the handshake unless the server's URI SAN is exactly this. */
  expectedIdentity?: string
  /** Aborting before the handshake completed closes the attempt and rejects. */
  signal?: AbortSignal
}

export interface StreamOptions {
  /** No body: the header section ends the message (END_STREAM). */
  endStream?: boolean
  /** Aborting resets the stream (H3_REQUEST_CANCELLED) and destroys it with the reason. */
  signal?: AbortSignal
}

export interface QuicSessionStats extends RawStats {}

/** Why a session ended: QUIC transport or application code, and a readable reason. */
export class QuicSessionError extends Error {
  readonly code: number
  readonly type: 'transport' | 'application' | 'version-negotiation' | 'idle'
  constructor (message: string, code: number, type: number) {
    super(message)
    this.name = 'QuicSessionError'
    this.code = code
    this.type = (['transport', 'application', 'version-negotiation', 'idle'] as const)[type] ?? 'transport'
  }
}

/** A stream ended by the peer's RESET_STREAM or by the session going away. */
export class QuicStreamError extends Error {
  readonly code: number
  constructor (message: string, code: number) {
    super(message)
    this.name = 'QuicStreamError'
    this.code = code
  }
}

function flatten (headers: QuicHeaders): string[] {
  const pseudo: string[] = []
  const regular: string[] = []
  for (const [key, value] of Object.entries(headers)) {
    const name = key.toLowerCase()
    const target = name.startsWith(':') ? pseudo : regular
    if (Array.isArray(value)) {
      for (const v of value) target.push(name, String(v))
    } else {
      target.push(name, String(value))
    }
  }
  // RFC 9114 §4.3: pseudo-header fields come first.
  return pseudo.concat(regular)
}

function unflatten (flat: string[]): QuicHeaders {
  const out: QuicHeaders = {}
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i] as string
    const value = flat[i + 1] as string
    const prev = out[name]
    if (prev === undefined) out[name] = value
    else if (Array.isArray(prev)) prev.push(value)
    else out[name] = [prev, value]
  }
  return out
}

/** A constructor of raw endpoints: the QUIC addon's Endpoint (default) or the h2 engine's Engine. */
export type EndpointConstructor = new (options: RawEndpointOptions & Record<string, unknown>, emit: EmitFn) => RawEndpoint

/** How a natively spliced stream ended (the native h2 engine's spliceClose event). */
export interface SpliceRecord {
  /** One of SPLICE_END's values. */
  end: number
  /** Bytes the socket sent to the peer, and the peer to the socket. */
  toPeer: number
  fromPeer: number
  reason: string
}

function isCleanClose (code: number, type: number): boolean {
  return (type === 1 && code === H3_CODES.noError) || (type === 0 && code === 0) || type === 3
}

/**
 * One HTTP/3 request stream. Readable side: the peer's body; writable side: ours. Events:
 * `response` (client: the final response header section), `headers` (every header section, with
 * `trailers` flag), `trailers`, `reset` (peer reset or stop-sending, with the code).
 */
export class QuicStream extends Duplex {
  /** QUIC stream id; -1 while the request waits for the peer's stream limit. */
  id = -1
  /** The header section received first (request on the server, response on the client). */
  headers: QuicHeaders | undefined
  /** Trailers received, once the body has ended. */
  receivedTrailers: QuicHeaders | undefined
  /** True when the first header section carried END_STREAM: no body follows (RFC 9114 §4.1). */
  endAfterHeaders = false
  readonly session: QuicSession
  private trailersOut: QuicHeaders | undefined
  private readPaused = false
  private pendingWrite: ((err?: Error | null) => void) | undefined
  private waitingOpen: Array<() => void> = []
  private responded: boolean
  private noBody = false
  private closedOnWire = false
  private finReceived = false

  /** @internal */
  constructor (session: QuicSession, id: number, responded: boolean) {
    super({ allowHalfOpen: true, highWaterMark: 256 * 1024 })
    this.session = session
    this.id = id
    this.responded = responded
  }

  /** Server: sends the response header section (`:status` required). */
  respond (headers: QuicHeaders, options: StreamOptions = {}): void {
    if (this.responded) throw new Error('respond() was already called')
    this.responded = true
    this.session.endpoint.respond(this.session.conn, this.id, flatten(headers), options.endStream === true)
    if (options.endStream === true) this.endWithoutBody()
  }

  /** Trailers to send when the body ends (call before `end()`). */
  setTrailers (trailers: QuicHeaders): void {
    this.trailersOut = trailers
  }

  /** Aborts both directions with RESET_STREAM and STOP_SENDING. */
  reset (code: number = H3_CODES.requestCancelled, err?: Error): void {
    if (!this.closedOnWire && this.id >= 0) this.session.endpoint.resetStream(this.session.conn, this.id, code)
    this.closedOnWire = true
    this.destroy(err)
  }

  /** Runs `fn` once the stream has its id (at once when it has). */
  whenOpened (fn: () => void): void {
    if (!this.whenOpen(fn)) fn()
  }

  /**
   * Native h2 engine, client: splices socket `fd` with this CONNECT stream once the peer answers
   * 2xx ('spliced' fires with a SpliceRecord when it is over). The engine duplicates the fd.
   */
  spliceFd (fd: number, initial: Buffer | null, idleMs: number, start: number = SPLICE_START.onAnswer): void {
    const splice = this.session.endpoint.spliceFd
    if (splice === undefined) throw new Error('this binding does not splice sockets')
    // Peer bytes this stream already holds (nobody read them) go to the socket first.
    const held: Buffer[] = []
    if (start === SPLICE_START.now) {
      for (let chunk = this.read() as Buffer | null; chunk !== null; chunk = this.read() as Buffer | null) held.push(chunk)
    }
    splice.call(this.session.endpoint, this.session.conn, this.id, fd, initial, idleMs, start, held.length === 0 ? null : Buffer.concat(held))
  }

  /** Native h2 engine, client: starts a splice made with SPLICE_START.onJs, writing `toSocket` first. */
  spliceStart (toSocket: Buffer | null): void {
    const start = this.session.endpoint.spliceStart
    if (start === undefined) throw new Error('this binding does not splice sockets')
    const held: Buffer[] = toSocket === null ? [] : [toSocket]
    for (let chunk = this.read() as Buffer | null; chunk !== null; chunk = this.read() as Buffer | null) held.push(chunk)
    start.call(this.session.endpoint, this.session.conn, this.id, held.length === 0 ? null : Buffer.concat(held))
  }

  /** Native h2 engine, server: connects to the target, answers 200 and splices ('spliced' at the end). */
  spliceConnect (host: string, port: number, connectMs: number, idleMs: number): void {
    const splice = this.session.endpoint.spliceConnect
    if (splice === undefined) throw new Error('this binding does not splice sockets')
    this.responded = true
    try {
      splice.call(this.session.endpoint, this.session.conn, this.id, host, port, connectMs, idleMs)
    } catch (err) {
      // Nothing was answered (the peer reset the stream in the batch that opened it, or the
      // session is gone): the caller may still answer, so respond() must not throw.
      this.responded = false
      throw err
    }
  }

  /** @internal */ onSplice (end: number, payload: string[]): void {
    const record: SpliceRecord = { end, toPeer: Number(payload[0] ?? 0), fromPeer: Number(payload[1] ?? 0), reason: payload[2] ?? '' }
    const handedBack = end === SPLICE_END.connectRefused || end === SPLICE_END.connectTimeout || end === SPLICE_END.refusedByPeer
    if (handedBack) {
      // The stream is JS's again (to answer, or to read the refusal off).
      if (end !== SPLICE_END.refusedByPeer) this.responded = false
      this.emit('spliced', record)
      return
    }
    // The engine moved the bytes and closed the stream on the wire: nothing is left to send.
    this.closedOnWire = true
    this.emit('spliced', record)
    this.destroy()
  }

  private whenOpen (fn: () => void): boolean {
    if (this.id >= 0) return false
    this.waitingOpen.push(fn)
    return true
  }

  private ensureResponded (): void {
    if (!this.responded) this.respond({ ':status': '200' })
  }

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this._writev([{ chunk }], callback)
  }

  override _writev (chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    if (this.whenOpen(() => this._writev(chunks, callback))) return
    if (this.noBody) {
      callback(new Error('the message was sent with endStream: no body may follow'))
      return
    }
    this.ensureResponded()
    const ok = this.session.endpoint.write(this.session.conn, this.id, chunks.map(c => c.chunk), false)
    if (ok) callback()
    else this.pendingWrite = callback
  }

  override _final (callback: (error?: Error | null) => void): void {
    if (this.whenOpen(() => this._final(callback))) return
    if (!this.noBody) {
      this.ensureResponded()
      const trailers = this.trailersOut === undefined ? undefined : flatten(this.trailersOut)
      this.session.endpoint.write(this.session.conn, this.id, null, true, trailers)
    }
    callback()
  }

  override _read (): void {
    if (this.readPaused && this.id >= 0) {
      this.readPaused = false
      this.session.endpoint.resumeRead(this.session.conn, this.id)
    }
  }

  override _destroy (err: Error | null, callback: (error?: Error | null) => void): void {
    // autoDestroy after a complete exchange must not cancel what is still in flight.
    const complete = err === null && this.readableEnded && this.writableFinished
    if (!complete && !this.closedOnWire && this.id >= 0 && !this.session.closed) {
      this.session.endpoint.resetStream(this.session.conn, this.id, H3_CODES.requestCancelled)
    }
    this.closedOnWire = true
    const pending = this.pendingWrite
    this.pendingWrite = undefined
    if (pending !== undefined) pending(err ?? new QuicStreamError('stream destroyed', H3_CODES.requestCancelled))
    this.session.forget(this)
    callback(err)
  }

  /** @internal */ endWithoutBody (): void {
    this.noBody = true
    this.end()
  }

  /** @internal */ opened (id: number): void {
    this.id = id
    const waiting = this.waitingOpen
    this.waitingOpen = []
    for (const fn of waiting) fn()
  }

  /** @internal */ onHeaders (flat: string[], flag: number): void {
    const headers = unflatten(flat)
    const trailers = (flag & 1) !== 0
    this.emit('headers', headers, trailers)
    if (trailers) {
      this.receivedTrailers = headers
      this.emit('trailers', headers)
      return
    }
    const status = headers[':status']
    if (typeof status === 'string' && status.startsWith('1')) {
      this.emit('informational', headers)
      return
    }
    this.headers = headers
    this.endAfterHeaders = (flag & 2) !== 0
    if (this.session.side === 'client') this.emit('response', headers)
  }

  /** @internal */ onData (chunk: Buffer): boolean {
    if (this.destroyed) return true
    const more = this.push(chunk)
    if (!more) this.readPaused = true
    return more
  }

  /** @internal */ onEnd (): void {
    this.finReceived = true
    if (!this.destroyed) this.push(null)
  }

  /** @internal */ onDrain (): void {
    const pending = this.pendingWrite
    this.pendingWrite = undefined
    if (pending !== undefined) pending()
  }

  /** @internal */ onReset (code: number, stopSending: boolean): void {
    this.emit('reset', code, stopSending ? 'stop-sending' : 'reset')
    if (stopSending && code === H3_CODES.noError) {
      // RFC 9114 §4.1: the peer has its whole answer and does not need the rest of ours.
      this.onDrain()
      return
    }
    this.closedOnWire = true
    this.destroy(new QuicStreamError(`stream ${stopSending ? 'stopped' : 'reset'} by peer (code 0x${code.toString(16)})`, code))
  }

  /** @internal */ onStreamClose (code: number): void {
    this.closedOnWire = true
    if (this.destroyed) return
    if (code !== H3_CODES.noError) {
      this.destroy(new QuicStreamError(`stream closed with code 0x${code.toString(16)}`, code))
      return
    }
    // Both directions are done on the wire (the peer's FIN came as an `end` event before this):
    // release a writer still waiting for acknowledgements.
    this.onDrain()
  }

  /** @internal */ onSessionClose (err: Error | undefined): void {
    this.closedOnWire = true
    if (this.destroyed) return
    // Both directions were complete (our FIN sent, the peer's received): nothing was lost, even
    // if the peer closed the session before acknowledging the stream's end.
    if (this.finReceived && this.writableFinished) {
      this.onDrain()
      if (this.readableEnded || this.readableLength === 0) this.destroy()
      return
    }
    this.destroy(err ?? new QuicStreamError('session closed', H3_CODES.requestCancelled))
  }
}

/**
 * An HTTP/3 session (one QUIC connection). Events: `stream` (server: a request arrived, with
 * its headers), `goaway`, `close` (with a QuicSessionError unless it ended cleanly).
 */
export class QuicSession extends EventEmitter {
  readonly side: 'client' | 'server'
  /** The peer certificate's URI SAN (its SPIFFE ID), verified against the CA. */
  readonly peerIdentity: string
  /**
   * Server: the certificates the peer presented, DER, leaf first, as verified in the handshake
   * (so the core can tell which trust root the chain leads to); empty on a client session.
   */
  readonly peerCertificates: readonly Buffer[]
  readonly alpn: string
  closed = false
  /** True once the peer sent GOAWAY or we started closing. */
  goingAway = false
  closeError: QuicSessionError | undefined
  /** @internal */ readonly endpoint: RawEndpoint
  /** @internal */ readonly conn: number
  private readonly streams = new Map<number, QuicStream>()
  private readonly pending: Array<{ stream: QuicStream, headers: string[], endStream: boolean }> = []
  private lastStats: QuicSessionStats | undefined
  private readonly closedPromise: Promise<void>
  private resolveClosed!: () => void

  /** @internal */
  constructor (endpoint: RawEndpoint, conn: number, side: 'client' | 'server', peerIdentity: string, alpn: string, peerChainHex = '') {
    super()
    this.peerCertificates = peerChainHex === '' ? [] : peerChainHex.split(',').map((hex) => Buffer.from(hex, 'hex'))
    this.endpoint = endpoint
    this.conn = conn
    this.side = side
    this.peerIdentity = peerIdentity
    this.alpn = alpn
    this.closedPromise = new Promise(resolve => { this.resolveClosed = resolve })
  }

  /** Client: opens a request stream and sends its header section. */
  request (headers: QuicHeaders, options: StreamOptions = {}): QuicStream {
    if (this.closed || this.goingAway) throw new Error('session is closing')
    const endStream = options.endStream === true
    const stream = new QuicStream(this, -1, true)
    const flat = flatten(headers)
    if (this.pending.length > 0 || !this.tryOpen(stream, flat, endStream)) {
      this.pending.push({ stream, headers: flat, endStream })
    }
    if (endStream) stream.endWithoutBody()
    const signal = options.signal
    if (signal !== undefined) {
      const onAbort = (): void => {
        const reason: unknown = signal.reason
        stream.reset(H3_CODES.requestCancelled, reason instanceof Error ? reason : new Error('request aborted'))
      }
      if (signal.aborted) onAbort()
      else {
        signal.addEventListener('abort', onAbort, { once: true })
        stream.once('close', () => signal.removeEventListener('abort', onAbort))
      }
    }
    return stream
  }

  private tryOpen (stream: QuicStream, headers: string[], endStream: boolean): boolean {
    const id = this.endpoint.request(this.conn, headers, endStream)
    if (id === -2) return false
    this.streams.set(id, stream)
    stream.opened(id)
    return true
  }

  /** Streams open now. */
  get openStreams (): number {
    return this.streams.size
  }

  /** True while a new request would open at once: not closing, no GOAWAY, below the peer's limit. */
  get available (): boolean {
    return this.streamCapacity > 0
  }

  /** Streams a new request may open at once: streamsLeft while available, else 0 (one call into the addon). */
  get streamCapacity (): number {
    if (this.closed || this.goingAway || this.pending.length > 0) return 0
    return this.streamsLeft
  }

  /** Streams that may open now under the peer's limit (0 once closed). */
  get streamsLeft (): number {
    if (this.closed) return 0
    const left = this.endpoint.streamsLeft
    return left === undefined ? (this.endpoint.stats(this.conn)?.streamsBidiLeft ?? 0) : left.call(this.endpoint, this.conn)
  }

  /**
   * Native h2 engine, server side: lets the engine deliver this session's later requests for
   * `target` to `host:port` itself (see RawEndpoint.allowTarget); each is reported by a
   * `delivered` event (status, flag, strings, numbers: see DELIVERED_LAYOUT). False where the
   * binding cannot.
   */
  allowTarget (target: string, grant: { address: string, host: string, port: number, auto: boolean, http2: boolean, connectMs: number, idleMs: number, requestMs: number }): boolean {
    if (this.closed || this.endpoint.allowTarget === undefined) return false
    return this.endpoint.allowTarget(this.conn, target, grant.address, grant.host, grant.port, grant.auto, grant.connectMs, grant.idleMs, grant.requestMs, grant.http2)
  }

  /** Whether allowTarget can grant anything on this session's binding. */
  get canDeliver (): boolean {
    return this.side === 'server' && this.endpoint.allowTarget !== undefined
  }

  /** RTT, congestion window, packet and byte counters (last values once closed). */
  stats (): QuicSessionStats | undefined {
    if (!this.closed) this.lastStats = this.endpoint.stats(this.conn) ?? this.lastStats
    return this.lastStats
  }

  /** Graceful: GOAWAY, the open streams finish, then CONNECTION_CLOSE. Resolves when closed. */
  async close (): Promise<void> {
    if (!this.closed) {
      this.goingAway = true
      this.stats()
      this.endpoint.closeConnection(this.conn, H3_CODES.noError, true)
    }
    await this.closedPromise
  }

  /** Abrupt: CONNECTION_CLOSE now with `code` (H3_NO_ERROR unless an error is given). */
  destroy (err?: Error): void {
    if (this.closed) return
    this.stats()
    this.endpoint.closeConnection(this.conn, err === undefined ? H3_CODES.noError : H3_CODES.internalError, false)
  }

  /** @internal */ forget (stream: QuicStream): void {
    if (stream.id >= 0 && this.streams.get(stream.id) === stream) this.streams.delete(stream.id)
    const i = this.pending.findIndex(p => p.stream === stream)
    if (i >= 0) this.pending.splice(i, 1)
  }

  /** @internal */ dispatch (kind: number, sid: number, code: number, flag: number, payload: Buffer | string[] | Float64Array | undefined): boolean {
    switch (kind) {
      case EVENT_KIND.data:
        return this.streams.get(sid)?.onData(payload as Buffer) ?? true
      case EVENT_KIND.headers: {
        const stream = this.streams.get(sid)
        if (stream !== undefined) {
          stream.onHeaders(payload as string[], flag)
        } else if (this.side === 'server') {
          const created = new QuicStream(this, sid, false)
          this.streams.set(sid, created)
          created.onHeaders(payload as string[], flag)
          this.emit('stream', created, created.headers)
        }
        return true
      }
      case EVENT_KIND.end:
        this.streams.get(sid)?.onEnd()
        return true
      case EVENT_KIND.drain:
        this.streams.get(sid)?.onDrain()
        return true
      case EVENT_KIND.reset:
        this.streams.get(sid)?.onReset(code, flag === 1)
        return true
      case EVENT_KIND.streamClose: {
        const stream = this.streams.get(sid)
        this.streams.delete(sid)
        stream?.onStreamClose(code)
        return true
      }
      case EVENT_KIND.streamsAvailable:
        while (this.pending.length > 0) {
          const next = this.pending[0] as { stream: QuicStream, headers: string[], endStream: boolean }
          if (!this.tryOpen(next.stream, next.headers, next.endStream)) break
          this.pending.shift()
        }
        return true
      case EVENT_KIND.spliceClose:
        this.streams.get(sid)?.onSplice(flag, payload as string[])
        return true
      case EVENT_KIND.goaway:
        this.goingAway = true
        this.emit('goaway', code)
        return true
      default:
        return true
    }
  }

  /** @internal */ onClose (code: number, type: number, reason: string): void {
    if (this.closed) return
    this.stats()
    this.closed = true
    this.goingAway = true
    const err = isCleanClose(code, type) ? undefined : new QuicSessionError(reason, code, type)
    this.closeError = err
    for (const stream of [...this.streams.values()]) stream.onSessionClose(err)
    for (const p of this.pending.splice(0)) p.stream.onSessionClose(err ?? new QuicStreamError('session closed', H3_CODES.requestRejected))
    this.streams.clear()
    this.resolveClosed()
    this.emit('close', err)
  }
}

/** A listening HTTP/3 server. Events: `session`, `handshakeError` (Error), `close`. */
export class QuicServer extends EventEmitter {
  private readonly endpoint: RawEndpoint
  private readonly sessions = new Map<number, QuicSession>()
  private closing: Promise<void> | undefined

  /** @internal */
  constructor (options: ServerOptions, binding?: EndpointConstructor) {
    super()
    const Endpoint = binding ?? loadQuic().Endpoint
    const emit: EmitFn = (kind, conn, sid, code, flag, payload, text) => {
      if (kind === EVENT_KIND.data || kind === EVENT_KIND.headers) {
        const session = this.sessions.get(conn)
        return session === undefined ? true : session.dispatch(kind, sid, code, flag, payload)
      }
      if (kind === EVENT_KIND.delivered) {
        this.delivered(payload as Float64Array, text ?? '')
        return true
      }
      if (kind === EVENT_KIND.handshake) {
        const [identity = '', alpn = '', chainHex = ''] = payload as string[]
        const session = new QuicSession(this.endpoint, conn, 'server', identity, alpn, chainHex)
        this.sessions.set(conn, session)
        options.onSession?.(session)
        this.emit('session', session)
        return true
      }
      if (kind === EVENT_KIND.close) {
        const reason = (payload as string[])[0] ?? ''
        const session = this.sessions.get(conn)
        if (session === undefined) {
          this.emit('handshakeError', new QuicSessionError(reason, code, flag))
          return true
        }
        this.sessions.delete(conn)
        session.onClose(code, flag, reason)
        return true
      }
      return this.sessions.get(conn)?.dispatch(kind, sid, code, flag, payload) ?? true
    }
    this.endpoint = new Endpoint({ ...options, server: true }, emit)
  }

  /** A batch of the engine's delivery records, each to its session's `delivered` listeners. */
  private delivered (nums: Float64Array, text: string): void {
    let at = 0
    for (let i = 0; i + DELIVERED_LAYOUT.size <= nums.length; i += DELIVERED_LAYOUT.size) {
      const strings: string[] = new Array<string>(DELIVERED_LAYOUT.strings)
      for (let k = 0; k < DELIVERED_LAYOUT.strings; k++) {
        const end = at + (nums[i + 4 + k] as number)
        strings[k] = text.slice(at, end)
        at = end
      }
      const first = i + 4 + DELIVERED_LAYOUT.strings
      // requestBytes, responseBytes, headMs, totalMs (a literal: Array.from() of a subarray costs more per record)
      const numbers = [nums[first] as number, nums[first + 1] as number, nums[first + 2] as number, nums[first + 3] as number]
      this.sessions.get(nums[i] as number)?.emit('delivered', nums[i + 2], nums[i + 3], strings, numbers)
    }
  }

  /** Bound address, and the socket buffer sizes the kernel granted. */
  address (): EndpointAddress {
    return this.endpoint.address()
  }

  /**
   * Handshakes from now on present `tls.cert` and trust `tls.ca`; sessions already up keep the
   * credentials they started with. Throws, keeping the current ones, when the PEM does not load.
   */
  setCredentials (tls: QuicTlsOptions): void {
    this.endpoint.setCredentials({ ca: tls.ca, cert: tls.cert, key: tls.key })
  }

  /** Native h2 engine: withdraws every allowTarget grant of every session. */
  clearTargets (): void {
    this.endpoint.clearTargets?.()
    for (const session of this.sessions.values()) session.emit('targetsCleared')
  }

  /** Graceful: GOAWAY on every session, wait for them, then close the socket. */
  async close (): Promise<void> {
    this.closing ??= (async () => {
      this.endpoint.stopAccepting()
      await Promise.all([...this.sessions.values()].map(async s => await s.close()))
      this.endpoint.close()
      this.emit('close')
    })()
    await this.closing
  }

  /** Abrupt: CONNECTION_CLOSE to every session and close the socket now. */
  destroy (): void {
    this.closing ??= Promise.resolve()
    this.endpoint.close()
  }
}

/** Binds a server endpoint; resolves once the socket is bound. */
export async function createServer (options: ServerOptions & Record<string, unknown>, binding?: EndpointConstructor): Promise<QuicServer> {
  return new QuicServer(options, binding)
}

/** Opens a session to an HTTP/3 server; resolves after the (mutual TLS) handshake. */
export async function connect (options: ConnectOptions & Record<string, unknown>, binding?: EndpointConstructor): Promise<QuicSession> {
  const Endpoint = binding ?? loadQuic().Endpoint
  const host = isIP(options.host) !== 0 ? options.host : (await lookup(options.host)).address
  const family = isIP(host)
  let session: QuicSession | undefined
  let settle: { resolve: (s: QuicSession) => void, reject: (e: Error) => void } | undefined
  const done = new Promise<QuicSession>((resolve, reject) => { settle = { resolve, reject } })
  let endpoint: RawEndpoint | undefined
  const release = (): void => {
    const ep = endpoint
    if (ep === undefined) return
    endpoint = undefined
    ep.setRef(false)
    // Keep the socket a moment so a retransmitted CONNECTION_CLOSE can be answered.
    setTimeout(() => ep.close(), 200).unref()
  }
  const emit: EmitFn = (kind, c, sid, code, flag, payload) => {
    if (kind === EVENT_KIND.data || kind === EVENT_KIND.headers) {
      return session === undefined ? true : session.dispatch(kind, sid, code, flag, payload)
    }
    if (kind === EVENT_KIND.handshake) {
      const [identity = '', alpn = ''] = payload as string[]
      session = new QuicSession(endpoint as RawEndpoint, c, 'client', identity, alpn)
      settle?.resolve(session)
      return true
    }
    if (kind === EVENT_KIND.close) {
      const reason = (payload as string[])[0] ?? ''
      if (session === undefined) settle?.reject(new QuicSessionError(`QUIC handshake with ${host}:${options.port} failed: ${reason}`, code, flag))
      else session.onClose(code, flag, reason)
      release()
      return true
    }
    return session?.dispatch(kind, sid, code, flag, payload) ?? true
  }
  endpoint = new Endpoint({
    ...options,
    server: false,
    host: family === 6 ? '::' : '0.0.0.0',
    port: 0,
  }, emit)
  if (options.signal?.aborted === true) throw options.signal.reason ?? new Error('aborted')
  let conn = -1
  const onAbort = (): void => {
    if (session !== undefined || endpoint === undefined) return
    settle?.reject(options.signal?.reason instanceof Error ? options.signal.reason : new Error('connect aborted'))
    endpoint.closeConnection(conn, H3_CODES.noError, false)
  }
  options.signal?.addEventListener('abort', onAbort, { once: true })
  done.then(() => options.signal?.removeEventListener('abort', onAbort), () => options.signal?.removeEventListener('abort', onAbort))
  try {
    conn = endpoint.connect({
      host,
      port: options.port,
      servername: options.servername ?? '',
      expectedIdentity: options.expectedIdentity ?? '',
    })
  } catch (err) {
    release()
    throw err
  }
  return await done
}
