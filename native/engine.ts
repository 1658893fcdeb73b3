/**
 * The one loader of the native h2 engine addon (native/engine/build/Release/meshgate_engine.node):
 * HTTP/2 peer sessions over mutual TLS framed by libnghttp2 and encrypted by GnuTLS, with
 * CONNECT streams spliced to sockets natively, and its HTTP/1 request parser (llhttp). Its binding has the shape of the QUIC addon's
 * (native/index.ts), so native/quic.ts's session layer drives both. Nothing else loads the file.
 */
import { loadAddon, type EmitFn, type RawEndpoint, type RawEndpointOptions } from './index.js'

/** The apt packages the engine builds against (`native/build.mjs` checks them with pkg-config). */
export const ENGINE_APT_PACKAGES = ['libnghttp2-dev', 'libgnutls28-dev', 'node-llhttp', 'pkg-config'] as const

export const ENGINE_INSTALL_HINT =
  `apt-get install -y ${ENGINE_APT_PACKAGES.join(' ')} g++ make python3 && npm run native:build`

/** Options of one engine: a TCP listener (server) or the client side of outgoing sessions. */
export interface RawEngineOptions extends Omit<RawEndpointOptions, 'cc' | 'recvBufferSize' | 'sendBufferSize' | 'debug'> {
  /** SETTINGS_MAX_HEADER_LIST_SIZE, bytes (default 64 KiB). */
  maxHeaderListBytes?: number
  /** An unanswered PING ends the session after this, ms (default 5 000). */
  keepAliveTimeoutMs?: number
  /** Peer streams before the premature-reset rule applies (default 500). */
  prematureResetMinStreams?: number
}

/** Limits of one HTTP/1 request parser (native/engine/src/http1-parser.h). */
export interface Http1ParserLimits {
  /** Request line + fields + blank line, bytes (default 64 KiB); over it: 431. */
  maxHeaderBytes?: number
  /** Fields in a head or a trailer section (default 256); over it: 431. */
  maxHeaderCount?: number
}

/** What the parser found in the bytes of one execute() or finish() call, in order. */
export type Http1ParserEvent =
  | {
    kind: 'head'
    method: string
    target: string
    versionMajor: number
    versionMinor: number
    /** Flat name/value pairs as received. */
    headers: string[]
    keepAlive: boolean
    /** Upgrade (with Connection: upgrade) or CONNECT. */
    upgrade: boolean
    expectContinue: boolean
    /** 0 none, 1 content-length, 2 chunked. */
    body: 0 | 1 | 2
    contentLength: number
    headBytes: number
  }
  | { kind: 'body', data: Buffer }
  | { kind: 'end', trailers: string[] }
  | { kind: 'upgrade', rest: Buffer }
  | { kind: 'error', status: 400 | 431, code: 'E_BAD_REQUEST' | 'E_HEADERS_TOO_LARGE', name: string, reason: string, offset: number }

/** The engine's incremental HTTP/1 request parser (llhttp), one per app connection. */
export interface Http1RequestParser {
  execute: (bytes: Buffer) => Http1ParserEvent[]
  /** The app closed its side: no event between requests, an error inside one. */
  finish: () => Http1ParserEvent[]
}

/** Options of an AppHost (native/engine/src/app-http1.h). */
export interface RawAppHostOptions {
  maxHeaderBytes?: number
  maxHeaderCount?: number
  headerReadMs?: number
  keepAliveMs?: number
  /** Requests per connection; the last is answered with `connection: close` (0 or absent: no limit). */
  maxRequestsPerConnection?: number
}

/**
 * Event kinds an AppHost emits; values match AppEventKind in native/engine/src/app-http1.h and
 * AppH2cEventKind in app-h2c.h (streamGone, h2cClosed, h2cResets: h2c connections only).
 */
export const APP_EVENT = { head: 20, done: 21, closed: 22, streamGone: 23, h2cClosed: 24, h2cResets: 25, refused: 26 } as const
/** Bits of a head event's flag (AppHeadFlags; h2c: the head is an h2c stream's). */
export const APP_HEAD_FLAG = { keepAlive: 1, upgrade: 2, hasBody: 8, h2c: 16 } as const
/** Bits of a done event's flag (AppDoneFlags; clientReset: an h2c client reset the stream). */
export const APP_DONE_FLAG = { headSent: 1, clientGone: 2, beforeHead: 4, clientReset: 8 } as const
/** Why the engine ended an app h2c session (h2cClosed's code; AppH2cCloseReason). */
export const APP_H2C_CLOSE = { rapidReset: 1, maxRequests: 2, protocol: 3, headerTimeout: 4, flood: 5 } as const

/**
 * What an AppHost emits, once per batch of events (one loop turn's, usually): per event, `nums`
 * holds kind, conn, stream, code, flag, the number of strings, each one's length, the number of
 * numbers and the numbers; `text` holds every event's strings back to back.
 */
export type AppEmitFn = (nums: Float64Array, text: string) => void

/** The engine's HTTP/1 and h2c app connections. */
export interface RawAppHost {
  adopt: (fd: number, initial: Buffer | null) => number
  /**
   * 0 sent, 1 the connection is gone, 2 the session cannot take a stream now, 3 `fields` (names
   * and values joined by NUL) did not split into `count` strings: a field holds a NUL.
   */
  forward: (conn: number, engine: RawEndpoint, session: number, fields: string, count: number, requestMs: number, idleMs: number, token: number) => number
  answer: (conn: number, bytes: Buffer, close: boolean) => void
  /** A new descriptor of the connection (for `new net.Socket({ fd })`) and the bytes to read first. */
  handBack: (conn: number) => { fd: number, bytes: Buffer } | null
  drain: () => void
  close: () => void
  count: () => number
  /** An h2c app connection (app-h2c.h); its streams' heads come with their stream ids. */
  adoptH2c: (fd: number, initial: Buffer | null) => number
  /** As forward(), for one stream of an h2c connection. */
  forwardStream: (conn: number, stream: number, engine: RawEndpoint, session: number, fields: string, count: number, requestMs: number, idleMs: number, token: number) => number
  /** An error answer to a stream's head (meshgate-error: code, a text body). 0 done, 1 the stream is gone. */
  answerStream: (conn: number, stream: number, status: number, code: string, message: string) => number
  /** RST_STREAM REFUSED_STREAM and GOAWAY: the client retries the request on a new connection. */
  refuseStream: (conn: number, stream: number) => number
}

export interface EngineBinding {
  Engine: new (options: RawEngineOptions, emit: EmitFn) => RawEndpoint
  AppHost: new (options: RawAppHostOptions, emit: AppEmitFn) => RawAppHost
  Http1RequestParser: new (limits?: Http1ParserLimits) => Http1RequestParser
  versions: { nghttp2: string, gnutls: string, llhttp: string }
  /** V8's LowMemoryNotification, then malloc_trim (native/engine/src/memory-relief.cc). Blocks the loop ~5–25 ms. */
  relieveMemory: () => void
}

let cached: EngineBinding | undefined
let failure: Error | undefined

/** Loads the addon once; throws an Error naming every path tried and the install line. */
export function loadEngine (): EngineBinding {
  if (cached !== undefined) return cached
  if (failure !== undefined) throw failure
  try {
    cached = loadAddon<EngineBinding>({ file: 'meshgate_engine.node', buildDir: 'native/engine/build', envVar: 'MESHGATE_ENGINE_ADDON', what: 'meshgate native h2 engine', installHint: ENGINE_INSTALL_HINT })
    return cached
  } catch (err) {
    failure = err as Error
    throw failure
  }
}
