/**
 * The transport contract: what the proxy core needs from a way of talking HTTP semantics to a
 * peer proxy, authenticated. h2 (HTTP/2 over mutual TLS) and h3 (QUIC) both implement it, so the
 * core never branches on which one it uses, and one conformance suite runs against each
 * (test/transports/conformance.ts). Transports import only this file and core/ (errors, identity).
 */
import type { Duplex, Readable } from 'node:stream'

/** Header names are lower-case; pseudo-headers (`:method` …) never appear here. */
export type HeaderMap = Record<string, string | string[]>

/** A peer proxy's network address. */
export interface PeerAddress {
  host: string
  port: number
}

/**
 * PEM text of the mesh trust root and this workload's certificate chain and key. `ca` may hold
 * several certificates (a bundle): every one is trusted, which is how two CAs overlap during a
 * CA rotation.
 */
export interface TlsMaterial {
  ca: string
  cert: string
  key: string
}

/** The request line and headers of an HTTP exchange (or of a CONNECT tunnel). */
export interface RequestHead {
  method: string
  /** `:authority` — the logical destination (`host[:port]`), or `host:port` for CONNECT. */
  authority: string
  /** `:path`; empty for a plain CONNECT. */
  path: string
  scheme: 'http' | 'https'
  /** `:protocol` of an extended CONNECT (RFC 8441 / RFC 9220), e.g. `websocket`. */
  protocol?: string
  headers: HeaderMap
}

export interface ResponseHead {
  status: number
  headers: HeaderMap
}

/** A response whose body streams; trailers are known once the body has ended. */
export interface PeerResponse {
  head: ResponseHead
  body: Readable
  trailers: () => HeaderMap | undefined
}

/** Where PeerSession.requestTo() reports. */
export interface ResponseTarget {
  response: (response: PeerResponse) => void
  failed: (err: Error) => void
}

/** An accepted CONNECT stream: bytes both ways, half-close carried (FIN ↔ END_STREAM). */
export interface PeerTunnel {
  head: ResponseHead
  stream: Duplex
}

/** A listener of an AbortSignalLike: a function, or an object whose `handleEvent()` is called. */
export type AbortListener = (() => void) | { handleEvent: () => void }

/**
 * What a transport uses of an AbortSignal, so that an AbortSignal fits and so does a cheaper
 * object (transports/abort-signal.ts): an AbortController is an EventTarget, a few µs to make and
 * to listen on, once per request, on a path that almost never aborts.
 */
export interface AbortSignalLike {
  readonly aborted: boolean
  readonly reason: unknown
  addEventListener: (type: 'abort', listener: AbortListener, options?: { once?: boolean }) => void
  removeEventListener: (type: 'abort', listener: AbortListener) => void
}

export interface StreamOptions {
  /** Aborting resets the stream (and rejects the promise if it has not settled). */
  signal?: AbortSignalLike
}

/** How a tunnel spliced inside a native engine went: bytes each way, and the failure if any. */
export interface SplicedTunnelResult {
  /** Outbound: app → peer; inbound: peer → workload. */
  aToB: number
  /** Outbound: peer → app; inbound: workload → peer. */
  bToA: number
  error: import('../core/errors.js').MeshError | undefined
}

/** An open tunnel whose bytes a native engine splices; `done` settles when it is over. */
export interface SplicedTunnel {
  head: ResponseHead
  done: Promise<SplicedTunnelResult>
  /**
   * Set when spliceTunnel() was asked to `deferStart`: starts the splice, writing `toSocket` to
   * the app first (an HTTP/1 Upgrade's 101 head). Nothing moves until it is called.
   */
  start?: (toSocket: Buffer) => void
}

export interface SpliceTunnelOptions extends StreamOptions {
  /** No bytes either way for this long ends the tunnel with E_IDLE_TIMEOUT, ms (0 = never). */
  idleMs: number
  /** Bytes of the app's that were read before the hand-over (sent to the peer first). */
  initial?: Buffer
  /** Wait for SplicedTunnel.start() after the 2xx (an Upgrade writes its 101 first). */
  deferStart?: boolean
}

/** Counters a session keeps about itself. */
export interface SessionStats {
  openStreams: number
  totalStreams: number
  /** Latest keep-alive round trip, seconds; undefined until one was measured. */
  rttSeconds: number | undefined
  bytesSent: number
  bytesReceived: number
}

/** An authenticated, multiplexed connection to one peer proxy. */
export interface PeerSession {
  readonly transport: string
  /** The peer's verified identity (its certificate's URI SAN, `spiffe://…`). */
  readonly peerIdentity: string
  readonly remote: PeerAddress
  /** True while new streams may open: not closing, no GOAWAY seen, below the peer's stream limit. */
  readonly available: boolean
  /**
   * How many more streams may open now: the peer's concurrent-stream limit minus the open ones
   * (0 when not available; Infinity when the peer sets no limit). The pool uses it to hand one
   * session to no more callers than it has room for.
   */
  readonly streamCapacity: number
  readonly closed: boolean
  /**
   * Sends a request (not CONNECT) and resolves when the response head arrives. Rejects with a
   * MeshError: E_PEER_RESET if the stream fails, or the code in the peer's `meshgate-error` header
   * is kept on the response (the peer's own status stands).
   */
  request: (head: RequestHead, body: Readable | null, options?: StreamOptions) => Promise<PeerResponse>
  /**
   * request() reporting to `to` instead of through a promise: `to.response()` at the response
   * head, or `to.failed()` with the same errors request() rejects with; exactly one of them, never
   * synchronously. Optional: a caller falls back to request() when a session lacks it. It saves
   * the promise, its callbacks and a microtask on every request of a busy proxy.
   */
  requestTo?: (head: RequestHead, body: Readable | null, options: StreamOptions, to: ResponseTarget) => void
  /**
   * Opens a CONNECT stream (`head.method` is `CONNECT`; `head.protocol` set for extended CONNECT).
   * Resolves on a 2xx; any other answer rejects with a MeshError carrying the peer's error code.
   */
  tunnel: (head: RequestHead, options?: StreamOptions) => Promise<PeerTunnel>
  /**
   * tunnel() with the app's socket handed to the transport's native engine, which splices it
   * with the CONNECT stream: no byte crosses into JS. Resolves on a 2xx (rejects as tunnel());
   * from the call on the transport owns the socket (the caller must not read or destroy it).
   * Optional: only sessions of a native data path have it.
   */
  spliceTunnel?: (head: RequestHead, socket: import('node:net').Socket, options: SpliceTunnelOptions) => Promise<SplicedTunnel>
  stats: () => SessionStats
  /** Graceful: no new streams (GOAWAY), resolves when open streams have finished. Safe twice. */
  close: () => Promise<void>
  /** Abrupt: resets every open stream. Safe twice. */
  destroy: (err?: Error) => void
  /** Called once when the session is gone, with the error that ended it if any. */
  onClose: (listener: (err?: Error) => void) => void
}

/** One inbound HTTP request, with the caller's verified identity. */
export interface InboundExchange {
  readonly caller: string
  /**
   * The certificates the caller presented, DER, leaf first, as the handshake verified them
   * against the listener's `ca` (one array per session, shared by its streams). With several
   * roots in `ca`, the core tells from it which root the caller's chain leads to.
   */
  readonly callerCertificates: readonly Buffer[]
  readonly head: RequestHead
  readonly body: Readable
  /** False when the request ended with its headers (END_STREAM on HEADERS): no body follows. */
  readonly hasBody: boolean
  /**
   * Aborted when the peer resets the stream or the session dies. An AbortSignalLike (a cheap
   * one, once per request), which undici and node:http2 take as a `signal` too.
   */
  readonly signal: AbortSignalLike
  /** Sends the response head, pipes `body`, then sends `trailers()` if it returns any. */
  respond: (head: ResponseHead, body: Readable | null, trailers?: () => HeaderMap | undefined) => void
  /** Answers with the error's status, the `meshgate-error` header and a short text body. */
  reject: (err: import('../core/errors.js').MeshError) => void
}

/** One inbound CONNECT (plain or extended), with the caller's verified identity. */
export interface InboundTunnel {
  readonly caller: string
  /** As InboundExchange.callerCertificates. */
  readonly callerCertificates: readonly Buffer[]
  readonly head: RequestHead
  readonly signal: AbortSignal
  /** Answers 200 and returns the stream's bytes as a Duplex. */
  accept: (headers?: HeaderMap) => Duplex
  /**
   * Native data path only: the engine connects to `host:port` (an IP literal), answers 200 and
   * splices; resolves when the tunnel is over. Rejects with E_UPSTREAM_UNREACHABLE or
   * E_CONNECT_TIMEOUT before anything was answered, so the caller can still reject().
   */
  spliceTo?: (host: string, port: number, connectMs: number, idleMs: number) => Promise<SplicedTunnelResult>
  /**
   * Native data path only: answers 200 with `headers`, then hands `socket` (a connected
   * workload socket, e.g. after an HTTP/1 101) to the engine, sending `toPeer` first; resolves
   * when the tunnel is over. From the call on the transport owns the socket.
   */
  acceptSpliced?: (headers: HeaderMap, socket: import('node:net').Socket, toPeer: Buffer, idleMs: number) => Promise<SplicedTunnelResult>
  reject: (err: import('../core/errors.js').MeshError) => void
}

export interface InboundHandlers {
  request: (exchange: InboundExchange) => void
  tunnel: (tunnel: InboundTunnel) => void
  /** Native inbound delivery (optional): a transport that can deliver requests itself asks it. */
  delivery?: InboundDelivery
}

/**
 * Native inbound delivery (docs/native-http.md, stage 5). Authorization stays with the core: the
 * transport asks `grant` once per session (caller) × target — when the session opens for each
 * of `targets()`, otherwise after the session's first request to a target, which is served
 * through `request` as always; when it answers, the session's requests to the target are
 * delivered to the workload by the transport itself, and each is reported once, at its end,
 * through `record`.
 */
export interface InboundDelivery {
  /** Where and how the transport may deliver `caller`'s requests for `target` itself; undefined: it may not. */
  grant: (caller: string, target: string) => DeliveryGrant | undefined
  record: (record: DeliveryRecord) => void
  /**
   * The HTTP targets a session is asked `grant` about as soon as it opens, so that its first
   * request to them is delivered natively too (the JS path's first request is a cold one: its
   * code runs for the first time). Optional: without it, each target is asked about after the
   * session's first request to it.
   */
  targets?: () => readonly string[]
}

export interface DeliveryGrant {
  /** The target as configured (`host:port`), for messages. */
  address: string
  /** An IP literal. */
  host: string
  port: number
  /** An `auto` target: requests the app sent as HTTP/1.1 go over HTTP/1, the rest over h2c. */
  auto: boolean
  /** An `http2` target: every request over h2c. */
  http2: boolean
  connectMs: number
  idleMs: number
  /** Request sent → response head, ms (0: no limit). */
  requestMs: number
}

/** One request the transport delivered itself. */
export interface DeliveryRecord {
  caller: string
  /** The meshgate-target the request named. */
  target: string
  method: string
  path: string
  authority: string
  requestId: string
  /** Answered to the peer (the workload's, or an error's); 0: none (the peer went first). */
  status: number
  /** A mesh error code when the exchange failed. */
  errorCode: string | undefined
  errorMessage: string
  /** meshgate-orig-proto as the peer sent it. */
  origProto: string | undefined
  requestBytes: number
  responseBytes: number
  /** Request head → response head (or the end, without one), ms. */
  headMs: number
  totalMs: number
  /** A response head went to the peer. */
  headSent: boolean
  /** The peer reset the stream or its session ended before the response did. */
  peerGone: boolean
}

export interface ConnectOptions {
  address: PeerAddress
  /** The identity discovery says this peer must present; any other is refused (E_PEER_IDENTITY). */
  expectedIdentity: string
  tls: TlsMaterial
  /** Bound on TCP/UDP connect plus handshake, ms (E_CONNECT_TIMEOUT). */
  connectTimeoutMs: number
  signal?: AbortSignal
  /**
   * Runs the session over this byte stream instead of dialling `address`, which then only names
   * the peer (an inner session inside a CONNECT tunnel: the multi-cluster gateway's end-to-end
   * mode). Only stream transports (h2) can; h3 refuses with E_TRANSPORT_UNAVAILABLE.
   */
  over?: Duplex
}

export interface ListenOptions {
  host: string
  /** 0 picks a free port; read it back from `address()`. */
  port: number
  tls: TlsMaterial
}

export interface TransportListener {
  address: () => PeerAddress
  /** Graceful: stop accepting, GOAWAY every session, resolve when their streams are done. */
  close: () => Promise<void>
  /** Abrupt: drop every session now. */
  destroy: () => void
  /**
   * Identity rotation: handshakes from now on present `tls.cert` and trust `tls.ca`; sessions
   * already up keep what they were set up with and drain normally. Throws (and keeps the
   * current material) when the PEM does not load; the core checks the material first
   * (core/identity/check.ts), so that is a bug or a race, not a user error.
   */
  setTls: (tls: TlsMaterial) => void
  /** Withdraws every InboundDelivery grant (the core's authorization inputs changed); absent: none were made. */
  clearDeliveryGrants?: () => void
}

/** The parts of a logger a transport uses; pino's Logger fits. */
export interface TransportLogger {
  debug: (obj: object, msg?: string) => void
  info: (obj: object, msg?: string) => void
  warn: (obj: object, msg?: string) => void
  error: (obj: object, msg?: string) => void
  child: (bindings: Record<string, unknown>) => TransportLogger
}

/** Hooks a transport calls so the core can keep metrics; every method is optional to implement. */
export interface TransportObserver {
  handshake?: (transport: string, side: 'client' | 'server', result: string) => void
  sessionOpened?: (transport: string, side: 'client' | 'server') => void
  sessionClosed?: (transport: string, side: 'client' | 'server') => void
  streamOpened?: (transport: string, side: 'client' | 'server') => void
  streamClosed?: (transport: string, side: 'client' | 'server') => void
  rtt?: (transport: string, seconds: number) => void
}

/** The optional hook of QUIC transports (h3), apart so TransportObserver implementations stay whole. */
export interface QuicPathObserver {
  /**
   * QUIC recovery state sampled from a client session: packets declared lost and probe timeouts
   * since the last sample, and the congestion window now, bytes (RFC 9002).
   */
  quicPath?: (transport: string, sample: QuicPathSample) => void
}

/** One sample of a QUIC session's loss recovery and congestion control (RFC 9002). */
export interface QuicPathSample {
  /** Packets declared lost since the previous sample. */
  lostPackets: number
  /** Probe timeouts (PTO) since the previous sample. */
  probeTimeouts: number
  /** Congestion window now, bytes. */
  cwndBytes: number
}

/** What the core injects into every transport (step two of the two-step factory). */
export interface TransportComponents {
  logger: TransportLogger
  observer?: TransportObserver & QuicPathObserver
}

export interface Transport {
  /** The registry key and the value of an endpoint's `transport:` (`h2`, `h3`). */
  readonly name: string
  connect: (options: ConnectOptions) => Promise<PeerSession>
  listen: (options: ListenOptions, handlers: InboundHandlers) => Promise<TransportListener>
  /**
   * Native data path only: an engine that serves HTTP/1 app connections itself (parsing, body
   * bytes, the response) and asks the core once per request where it goes. Optional.
   */
  httpFront?: (options: HttpFrontOptions, handlers: HttpFrontHandlers) => HttpFront
}

// --- The native HTTP/1 front (docs/native-http.md) ----------------------------------------------

export interface HttpFrontOptions {
  /** Request line + fields, bytes; over it: 431 E_HEADERS_TOO_LARGE. */
  maxHeaderBytes: number
  /** A started request head must complete within this, ms (408 E_HEADER_TIMEOUT). */
  headerReadMs: number
  /** An idle keep-alive connection closes after this, ms. */
  keepAliveMs: number
  /** Requests per connection, the last answered with `connection: close` (absent: no limit). */
  maxRequestsPerConnection?: number
}

/**
 * A request head the front parsed; `headers` are the raw name/value pairs as received (for an
 * h2c stream: `:authority` and `:scheme` among them, `:method` and `:path` in their own fields).
 */
export interface HttpFrontHead {
  /** The h2c stream the head came on; 0 for an HTTP/1 connection. */
  stream: number
  method: string
  /** The request target as sent (origin-form `/path?q`, or absolute-form; h2c: `:path`). */
  target: string
  /** `1.1`, `1.0`; `2.0` for h2c. */
  version: string
  headers: string[]
  keepAlive: boolean
  /** An Upgrade (with `Connection: upgrade`) or a CONNECT. */
  upgrade: boolean
  hasBody: boolean
}

/** How one exchange the front carried went: what the core needs for metrics, logs and the balancer. */
export interface HttpFrontRecord {
  /** The token the core gave forward(). */
  token: number
  /** The status answered to the app (0: none, the connection was cut). */
  status: number
  /** The mesh error code of a failure on this hop (E_PEER_RESET, E_REQUEST_TIMEOUT, ...), or undefined. */
  failure: string | undefined
  failureMessage: string
  /** The peer's `meshgate-error` on its response, if any. */
  peerError: string | undefined
  requestBytes: number
  responseBytes: number
  /** Head complete → response head written, ms (the whole exchange when no head came). */
  headMs: number
  totalMs: number
  /** The response head reached the app. */
  headSent: boolean
  /** The app went away first. */
  clientGone: boolean
  /** An h2c client reset the stream (counted as the JS path counts its resets). */
  clientReset: boolean
}

/** Why the front ended an app h2c session by a rule. */
export type H2cCloseReason = 'rapid_reset' | 'max_requests' | 'protocol' | 'header_timeout' | 'flood'

/** What the front says about h2c connections: their streams' heads come through `head`. */
export interface HttpFrontH2cHandlers {
  /** A stream whose head is pending ended before the core decided. */
  streamGone: (conn: number, stream: number) => void
  /** The front ended the session by a rule (one event per session, not per stream). */
  sessionClosed: (conn: number, reason: H2cCloseReason, message: string) => void
  /** Client resets of streams whose heads the core never saw (reset in the read that opened them). */
  resets: (conn: number, count: number) => void
}

export interface HttpFrontHandlers {
  /**
   * A request head: answer with forward(), answer() or handBack() (h2c: forward(), answerStream()
   * or refuse()), now or later.
   */
  head: (conn: number, head: HttpFrontHead) => void
  record: (conn: number, record: HttpFrontRecord) => void
  /**
   * The peer refused the forwarded request with `token` unprocessed (REFUSED_STREAM, or a GOAWAY
   * below its stream) and nothing of it reached the app: the head is pending again, for one more
   * forward() (on another session), answer() or handBack(). Body-less HTTP/1 requests only, once.
   */
  refused?: (conn: number, token: number) => void
  /** The connection is gone. */
  closed: (conn: number) => void
  h2c?: HttpFrontH2cHandlers
}

/** The result of HttpFront.forward(). */
export type HttpForwardResult = 'sent' | 'gone' | 'not-native' | 'bad-fields'

export interface HttpFront {
  /**
   * Takes over an accepted app socket detected as HTTP/1 or as h2c (prior knowledge, `http2`):
   * the bytes it has buffered are read and the socket is destroyed (the engine keeps a descriptor
   * of its own).
   */
  adopt: (socket: import('node:net').Socket, protocol: 'http1' | 'http2') => number
  /**
   * Sends the request whose head is pending on `session`, with the wire field section the core
   * built (flat name/value pairs, pseudo-headers first); `not-native` when the session is not one
   * of this engine's or has no stream free now; `bad-fields` when a name or value holds a NUL
   * byte (nothing sent).
   */
  forward: (conn: number, session: PeerSession, fields: readonly string[], options: { requestMs: number, idleMs: number, token: number, stream: number }) => HttpForwardResult
  /** Writes the core's own answer (an error) to the pending request; `close` ends the connection after it. */
  answer: (conn: number, bytes: Buffer, close: boolean) => void
  /**
   * The connection goes to JS: a new socket on it, and the bytes of the pending request and
   * after, to unshift into it; undefined when the connection is gone.
   */
  handBack: (conn: number) => { socket: import('node:net').Socket, bytes: Buffer } | undefined
  /** Each connection ends after its current exchange (h2c: GOAWAY, then its open streams finish). */
  drain: () => void
  /** Drops every connection. */
  close: () => void
  /** The core's own answer (an error) to an h2c stream's pending head. */
  answerStream: (conn: number, stream: number, status: number, code: string, message: string) => void
  /** The stream is refused (REFUSED_STREAM) and the connection told to go away: the client retries on a new one. */
  refuse: (conn: number, stream: number) => void
}

/** `h2Transport(options)` returns one of these; the core calls it with its components. */
export type TransportFactory = (components: TransportComponents) => Transport

/** Header names of the wire protocol between peers (DESIGN.md). */
export const WIRE_HEADERS = {
  origProto: 'meshgate-orig-proto',
  target: 'meshgate-target',
  clientId: 'meshgate-client-id',
  error: 'meshgate-error',
} as const
