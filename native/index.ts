/**
 * The one loader of the QUIC/HTTP/3 addon (native/build/Release/meshgate_quic.node). Nothing
 * else loads the .node file: everything goes through `loadQuic()`, which says every path it tried
 * and which Debian packages are missing when the addon is not there.
 */
import { createRequire } from 'node:module'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The apt packages the addon builds against (`native/build.mjs` checks them with pkg-config). */
export const QUIC_APT_PACKAGES = [
  'libngtcp2-dev',
  'libngtcp2-crypto-gnutls-dev',
  'libnghttp3-dev',
  'libgnutls28-dev',
  'pkg-config',
] as const

export const QUIC_INSTALL_HINT =
  `apt-get install -y ${QUIC_APT_PACKAGES.join(' ')} g++ make python3 && npm run native:build`

/** Event kinds the addon emits; values match `EventKind` in native/src/common.h. */
export const EVENT_KIND = {
  handshake: 1,
  close: 2,
  headers: 3,
  data: 4,
  end: 5,
  streamClose: 6,
  reset: 7,
  drain: 8,
  goaway: 9,
  streamsAvailable: 10,
  /** The native h2 engine only: a spliced stream is over (flag: SPLICE_END; payload [toPeer, fromPeer, reason]). */
  spliceClose: 11,
  /**
   * The native h2 engine only: requests it delivered to a workload itself are over, a batch per
   * call (conn 0; payload: DELIVERED_LAYOUT numbers per request; text: their strings back to
   * back; native/engine/src/engine.h kEventDelivered).
   */
  delivered: 12,
} as const

/**
 * One request's numbers in a `delivered` batch: conn, stream, status, flag, the lengths of its
 * `strings` strings (target, method, path, authority, requestId, errorCode, errorMessage,
 * origProto), then `numbers` numbers (requestBytes, responseBytes, headMs, totalMs).
 */
export const DELIVERED_LAYOUT = { strings: 8, numbers: 4, size: 16 } as const

/** Bits of a `delivered` record's flag; values match DeliveredFlags in native/engine/src/workload-http1.h. */
export const DELIVERED_FLAG = { headSent: 1, peerGone: 2 } as const

/** When a socket handed to spliceFd starts moving bytes; values match SpliceStartMode in native/engine/src/engine.h. */
export const SPLICE_START = {
  /** Client: on the peer's 2xx (TCP tunnels). */
  onAnswer: 0,
  /** Client: when JS calls spliceStart (HTTP/1 Upgrade: the 101 goes to the app first). */
  onJs: 1,
  /** At once: the stream is already answered (the inbound side of an Upgrade). */
  now: 2,
} as const

/** How a splice ended (flag of the spliceClose event); values match SpliceEnd in native/engine/src/engine.h. */
export const SPLICE_END = {
  done: 0,
  streamReset: 1,
  socketError: 2,
  idle: 3,
  connectRefused: 4,
  connectTimeout: 5,
  refusedByPeer: 6,
} as const

/**
 * The addon's event callback: `(kind, conn, stream, code, flag, payload)`. For `data` events its
 * return value says whether JS wants more (false holds back the peer's flow-control credit
 * until `resumeRead`).
 */
export type EmitFn = (
  kind: number,
  conn: number,
  stream: number,
  code: number,
  flag: number,
  payload: Buffer | string[] | Float64Array | undefined,
  /** `delivered` batches only: the records' strings. */
  text?: string,
) => boolean | undefined

/** Options of one UDP endpoint (server, or client carrying outgoing connections). */
export interface RawEndpointOptions {
  server: boolean
  /** IP literal to bind; default 127.0.0.1. */
  host?: string
  /** 0 (default) picks a free port. */
  port?: number
  /** PEM trust root the peer's certificate must chain to. */
  ca: string
  /** PEM certificate chain and private key of this side. */
  cert?: string
  key?: string
  /** Default `h3`. */
  alpn?: string
  /** Server: refuse clients without a certificate (default true). */
  requireClientCert?: boolean
  /** Concurrent bidi streams the peer may open (server; default 100). */
  maxStreams?: number
  /** QUIC max_idle_timeout, ms (default 30 000). */
  idleTimeoutMs?: number
  /** PING after this much quiet, ms; 0 (default) disables. */
  keepAliveMs?: number
  /** Close a session whose peer answered nothing this long while data is unacknowledged, ms; 0 (default): the idle timeout decides. */
  peerSilenceMs?: number
  /** Default 10 000 ms. */
  handshakeTimeoutMs?: number
  /** Per-stream receive window, bytes (default 6 MiB). */
  maxStreamData?: number
  /** Connection receive window, bytes (default 16 MiB). */
  maxData?: number
  /** Unacknowledged bytes per stream before `write` says wait (default 2 MiB). */
  sendHighWater?: number
  /** Congestion control: cubic (default), reno, bbr, bbr2. */
  cc?: 'cubic' | 'reno' | 'bbr' | 'bbr2'
  /** Socket buffer sizes asked of the kernel, bytes (default 4 MiB; capped by net.core.*mem_max). */
  recvBufferSize?: number
  sendBufferSize?: number
  /** ngtcp2's own trace on stderr. */
  debug?: boolean
}

export interface RawConnectOptions {
  host: string
  port: number
  /** SNI; empty sends none. */
  servername?: string
  /** When set, the handshake fails unless the server's URI SAN is exactly this. */
  expectedIdentity?: string
}

export interface RawStats {
  smoothedRttMs: number
  minRttMs: number
  latestRttMs: number
  cwnd: number
  bytesInFlight: number
  bytesSent: number
  bytesReceived: number
  packetsSent: number
  packetsReceived: number
  /** Packets carrying STREAM frames declared lost (ngtcp2 0.12 exposes no global loss count). */
  lostStreamPackets: number
  ptoCount: number
  openStreams: number
  streamsBidiLeft: number
}

export interface EndpointAddress {
  host: string
  port: number
  family: 'IPv4' | 'IPv6'
  /** Socket buffer sizes the kernel granted, bytes (compare with what was asked to warn). */
  recvBufferSize?: number
  sendBufferSize?: number
}

/** One bound UDP socket and its connections; ids are plain numbers. */
export interface RawEndpoint {
  address: () => EndpointAddress
  connect: (options: RawConnectOptions) => number
  /** Returns the stream id, or -2 while the peer's stream limit is reached. */
  request: (conn: number, headers: string[], endStream: boolean) => number
  respond: (conn: number, stream: number, headers: string[], endStream: boolean) => void
  /** Returns false when the stream's buffer is over the high-water mark (wait for `drain`). */
  write: (conn: number, stream: number, chunks: Uint8Array[] | null, end: boolean, trailers?: string[]) => boolean
  resumeRead: (conn: number, stream: number) => void
  resetStream: (conn: number, stream: number, code?: number) => void
  closeConnection: (conn: number, code: number, graceful: boolean) => void
  stats: (conn: number) => RawStats | undefined
  /** Native h2 engine only: `stats(conn).streamsBidiLeft` without building the stats object. */
  streamsLeft?: (conn: number) => number
  close: () => void
  setRef: (ref: boolean) => void
  /** Drop new connection attempts from now on (existing ones go on). */
  stopAccepting: () => void
  /**
   * New handshakes from now on use this PEM material (existing connections keep theirs until
   * they end); throws, keeping the current one, when it does not load. The credentials swap of
   * identity rotation.
   */
  setCredentials: (tls: { ca: string, cert: string, key: string }) => void
  /**
   * Native h2 engine only. Outbound: splices the socket `fd` (duplicated; the caller closes its
   * own) with the CONNECT stream once the peer answers 2xx, sending `initial` first.
   */
  spliceFd?: (conn: number, stream: number, fd: number, initial: Uint8Array | null, idleMs: number, start?: number, toSocket?: Uint8Array | null) => void
  /** Native h2 engine only: starts a splice made with `start` 1 (SPLICE_START.onJs), writing `toSocket` first. */
  spliceStart?: (conn: number, stream: number, toSocket: Uint8Array | null) => void
  /** Native h2 engine only. Inbound: connects to host:port, answers 200 and splices; or reports why not. */
  spliceConnect?: (conn: number, stream: number, host: string, port: number, connectMs: number, idleMs: number) => void
  /**
   * Native h2 engine only. Inbound: the session's later requests naming `target` in
   * meshgate-target are delivered by the engine to host:port, over HTTP/1 or h2c (`http2`: all of
   * them over h2c; `auto`: those the app sent as HTTP/1.1 over HTTP/1, the rest over h2c), each
   * reported by a `delivered` event. False: not granted (the session is gone, or host is not an
   * IP address).
   */
  allowTarget?: (conn: number, target: string, address: string, host: string, port: number, auto: boolean, connectMs: number, idleMs: number, requestMs: number, http2: boolean) => boolean
  /** Native h2 engine only: withdraws every grant of allowTarget (requests in flight go on). */
  clearTargets?: () => void
}

export interface QuicBinding {
  Endpoint: new (options: RawEndpointOptions, emit: EmitFn) => RawEndpoint
  versions: { ngtcp2: string, nghttp3: string, gnutls: string }
}

/** Where one of native/'s addons is built, and what to say when it is not there. */
export interface AddonLocation {
  /** The .node file's name, e.g. `meshgate_quic.node`. */
  file: string
  /** Its build folder below the package root, e.g. `native/build`. */
  buildDir: string
  /** An environment variable that names the file's path instead. */
  envVar: string
  /** For the error: `meshgate QUIC addon`. */
  what: string
  installHint: string
}

/** Where the .node file may be, from the package root (this file runs from dist/native/ or native/). */
function candidates (where: AddonLocation): string[] {
  const here = dirname(fileURLToPath(import.meta.url))
  const roots = [resolve(here, '..', '..'), resolve(here, '..')]
  const paths: string[] = []
  const fromEnv = process.env[where.envVar]
  if (fromEnv !== undefined && fromEnv !== '') paths.push(resolve(fromEnv))
  for (const root of roots) {
    for (const kind of ['Release', 'Debug']) paths.push(join(root, where.buildDir, kind, where.file))
  }
  return [...new Set(paths)]
}

/** Loads an addon of native/; throws an Error naming every path tried and the install line. */
export function loadAddon<T> (where: AddonLocation): T {
  const require = createRequire(import.meta.url)
  const tried: string[] = []
  for (const path of candidates(where)) {
    if (!existsSync(path)) {
      tried.push(`${path} (not found)`)
      continue
    }
    try {
      return require(path) as T
    } catch (err) {
      tried.push(`${path} (${(err as Error).message.split('\n')[0] ?? 'load failed'})`)
    }
  }
  throw new Error(`${where.what} is not available. Tried:\n  ${tried.join('\n  ')}\nTo build it: ${where.installHint}`)
}

let cached: QuicBinding | undefined
let failure: Error | undefined

/** Loads the addon once; throws an Error naming every path tried and the install line. */
export function loadQuic (): QuicBinding {
  if (cached !== undefined) return cached
  if (failure !== undefined) throw failure
  try {
    cached = loadAddon<QuicBinding>({ file: 'meshgate_quic.node', buildDir: 'native/build', envVar: 'MESHGATE_QUIC_ADDON', what: 'meshgate QUIC addon', installHint: QUIC_INSTALL_HINT })
    return cached
  } catch (err) {
    failure = err as Error
    throw failure
  }
}

/** True when the addon loads. */
export function quicAvailable (): boolean {
  try {
    loadQuic()
    return true
  } catch {
    return false
  }
}
