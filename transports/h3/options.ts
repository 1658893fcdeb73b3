// The h3 transport's user options (step one of the factory) and their defaults.
import { MeshError } from '../../core/errors.js'

/** Congestion controllers libngtcp2 offers. */
export type H3CongestionControl = 'cubic' | 'reno' | 'bbr' | 'bbr2'

/** Tuning of the h3 transport; every field is optional and falls back to {@link H3_DEFAULTS}. */
export interface H3Options {
  /** initial_max_streams_bidi: request streams a peer may have open on one session (RFC 9000 §4.6). Default 1000. */
  maxConcurrentStreams?: number
  /** max_idle_timeout, ms (RFC 9000 §10.1): a session silent this long is gone. Default 30 000 (30 s). */
  idleTimeoutMs?: number
  /**
   * A PING after this much quiet keeps the session (and NAT bindings) alive and samples the RTT,
   * ms; 0 turns keep-alive off. An unanswered PING ends the session after peerSilenceMs (or at the idle timeout). Default 10 000 (10 s).
   */
  keepAliveMs?: number
  /**
   * A session whose peer has sent nothing for this long while data of ours is unacknowledged is
   * closed at once, ms, rather than at the idle timeout (a crashed or unplugged peer sends no
   * CONNECTION_CLOSE). 0 leaves it to the idle timeout. Default 5 000 (5 s), as h2's PING timeout.
   */
  peerSilenceMs?: number
  /** initial_max_stream_data: each stream's receive window, bytes (RFC 9000 §4.1). Default 6 MiB. */
  streamWindowBytes?: number
  /** initial_max_data: the session's receive window, bytes (RFC 9000 §4.1). Default 16 MiB. */
  connectionWindowBytes?: number
  /** Unacknowledged bytes per stream before a write waits, bytes. Default 2 MiB. */
  sendHighWaterBytes?: number
  /** Default `bbr2`: libngtcp2 0.12's CUBIC cannot grow its window on a sub-100 µs path (docs/h3.md). */
  congestionControl?: H3CongestionControl
  /**
   * SO_RCVBUF / SO_SNDBUF asked of the kernel for each UDP socket, bytes. The kernel caps them at
   * `net.core.rmem_max` / `net.core.wmem_max` (docs/h3.md); `address()` of a listener reports what
   * was granted. Default 4 MiB each.
   */
  recvBufferBytes?: number
  sendBufferBytes?: number
  /**
   * 0-RTT (RFC 9001 §4.6.1). Off, and the binding has none: early data is replayable, so it
   * would be for idempotent requests only. `true` is refused with E_CONFIG. Default false.
   */
  zeroRtt?: false
  /**
   * CONNECT tunnels (TCP, WebSocket) spliced to their sockets inside the QUIC addon, so their bytes
   * never cross into JS; false moves them through JS streams (the reference path, as with
   * `dataPlane: js`). Default true.
   */
  spliceSockets?: boolean
}

export type ResolvedH3Options = Readonly<Required<H3Options>>

/** The defaults, units in the comments. */
export const H3_DEFAULTS: ResolvedH3Options = Object.freeze({
  maxConcurrentStreams: 1000,
  idleTimeoutMs: 30_000, // 30 s
  keepAliveMs: 10_000, // 10 s
  peerSilenceMs: 5_000, // 5 s
  streamWindowBytes: 6 * 1024 * 1024, // 6 MiB
  connectionWindowBytes: 16 * 1024 * 1024, // 16 MiB
  sendHighWaterBytes: 2 * 1024 * 1024, // 2 MiB
  congestionControl: 'bbr2',
  recvBufferBytes: 4 * 1024 * 1024, // 4 MiB
  sendBufferBytes: 4 * 1024 * 1024, // 4 MiB
  zeroRtt: false,
  spliceSockets: true,
})

/** QUIC variable-length integers stop at 2^62 - 1 (RFC 9000 §16); JS integers at 2^53 - 1. */
const MAX_VARINT = Number.MAX_SAFE_INTEGER
const CC = new Set<string>(['cubic', 'reno', 'bbr', 'bbr2'])

/** Merges `options` over the defaults; a value out of range throws E_CONFIG. */
export function resolveH3Options (options: H3Options = {}): ResolvedH3Options {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as H3Options
  const resolved = { ...H3_DEFAULTS, ...given }
  checkRange('maxConcurrentStreams', resolved.maxConcurrentStreams, 1, 2 ** 31 - 1)
  checkRange('idleTimeoutMs', resolved.idleTimeoutMs, 1, 2 ** 31 - 1)
  checkRange('keepAliveMs', resolved.keepAliveMs, 0, 2 ** 31 - 1)
  checkRange('peerSilenceMs', resolved.peerSilenceMs, 0, 2 ** 31 - 1)
  checkRange('streamWindowBytes', resolved.streamWindowBytes, 1024, MAX_VARINT)
  checkRange('connectionWindowBytes', resolved.connectionWindowBytes, 1024, MAX_VARINT)
  checkRange('sendHighWaterBytes', resolved.sendHighWaterBytes, 1024, 2 ** 31 - 1)
  checkRange('recvBufferBytes', resolved.recvBufferBytes, 4096, 2 ** 31 - 1)
  checkRange('sendBufferBytes', resolved.sendBufferBytes, 4096, 2 ** 31 - 1)
  if (!CC.has(resolved.congestionControl)) {
    throw new MeshError('E_CONFIG', `h3 transport option congestionControl: expected one of cubic, reno, bbr, bbr2, found ${String(resolved.congestionControl)}`)
  }
  if ((resolved.zeroRtt as boolean) !== false) {
    throw new MeshError('E_CONFIG', 'h3 transport option zeroRtt: expected false (the QUIC binding has no 0-RTT; early data is replayable)')
  }
  if (resolved.keepAliveMs >= resolved.idleTimeoutMs) {
    throw new MeshError('E_CONFIG', `h3 transport option keepAliveMs (${resolved.keepAliveMs}) must be below idleTimeoutMs (${resolved.idleTimeoutMs}), or keep-alive never fires`)
  }
  return Object.freeze(resolved)
}

function checkRange (name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new MeshError('E_CONFIG', `h3 transport option ${name}: expected an integer in [${min}, ${max}], found ${String(value)}`)
  }
}

/** The binding's tuning fields for one endpoint (client or server). */
export function bindingTuning (options: ResolvedH3Options): {
  idleTimeoutMs: number
  keepAliveMs: number
  peerSilenceMs: number
  maxStreamData: number
  maxData: number
  sendHighWater: number
  cc: H3CongestionControl
  recvBufferSize: number
  sendBufferSize: number
} {
  return {
    idleTimeoutMs: options.idleTimeoutMs,
    keepAliveMs: options.keepAliveMs,
    peerSilenceMs: options.peerSilenceMs,
    maxStreamData: options.streamWindowBytes,
    maxData: options.connectionWindowBytes,
    sendHighWater: options.sendHighWaterBytes,
    cc: options.congestionControl,
    recvBufferSize: options.recvBufferBytes,
    sendBufferSize: options.sendBufferBytes,
  }
}
