// The h2 transport's user options (step one of the factory) and their defaults.
import type { Settings } from 'node:http2'
import { MeshError } from '../../core/errors.js'

/** Tuning of the h2 transport; every field is optional and falls back to {@link H2_DEFAULTS}. */
export interface H2Options {
  /** Connection-level receive window advertised with WINDOW_UPDATE, bytes (RFC 9113 §6.9). Default 16 MiB. */
  connectionWindowBytes?: number
  /** SETTINGS_INITIAL_WINDOW_SIZE: each stream's receive window, bytes (RFC 9113 §6.5.2). Default 4 MiB. */
  streamWindowBytes?: number
  /** SETTINGS_MAX_CONCURRENT_STREAMS advertised to the peer (RFC 9113 §6.5.2). Default 1000. */
  maxConcurrentStreams?: number
  /** Interval between keep-alive PINGs, ms (RFC 9113 §6.7); 0 turns keep-alive off. Default 10 000 (10 s). */
  keepAliveMs?: number
  /** A PING unanswered for this long kills the session, ms. Default 5 000 (5 s). */
  keepAliveTimeoutMs?: number
  /** SETTINGS_MAX_HEADER_LIST_SIZE, bytes (RFC 9113 §6.5.2). Default 64 KiB. */
  maxHeaderListBytes?: number
}

export type ResolvedH2Options = Readonly<Required<H2Options>>

/** The defaults, units in the comments. */
export const H2_DEFAULTS: ResolvedH2Options = Object.freeze({
  connectionWindowBytes: 16 * 1024 * 1024, // 16 MiB
  streamWindowBytes: 4 * 1024 * 1024, // 4 MiB
  maxConcurrentStreams: 1000,
  keepAliveMs: 10_000, // 10 s
  keepAliveTimeoutMs: 5_000, // 5 s
  maxHeaderListBytes: 64 * 1024, // 64 KiB
})

/** Largest flow-control window HTTP/2 allows (RFC 9113 §6.9.1): 2^31 - 1 bytes. */
const MAX_WINDOW = 2 ** 31 - 1

/** Merges `options` over the defaults; a value out of range throws E_CONFIG. */
export function resolveH2Options (options: H2Options = {}): ResolvedH2Options {
  const resolved = { ...H2_DEFAULTS, ...stripUndefined(options) }
  checkRange('connectionWindowBytes', resolved.connectionWindowBytes, 65_535, MAX_WINDOW)
  checkRange('streamWindowBytes', resolved.streamWindowBytes, 0, MAX_WINDOW)
  checkRange('maxConcurrentStreams', resolved.maxConcurrentStreams, 1, 2 ** 32 - 1)
  checkRange('keepAliveMs', resolved.keepAliveMs, 0, 2 ** 31 - 1)
  checkRange('keepAliveTimeoutMs', resolved.keepAliveTimeoutMs, 1, 2 ** 31 - 1)
  checkRange('maxHeaderListBytes', resolved.maxHeaderListBytes, 1024, 2 ** 32 - 1)
  return Object.freeze(resolved)
}

function stripUndefined (options: H2Options): H2Options {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined))
}

function checkRange (name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new MeshError('E_CONFIG', `h2 transport option ${name}: expected an integer in [${min}, ${max}], found ${String(value)}`)
  }
}

/** The SETTINGS both sides advertise (RFC 9113 §6.5.2). */
export function localSettings (options: ResolvedH2Options): Settings {
  return {
    enablePush: false,
    initialWindowSize: options.streamWindowBytes,
    maxConcurrentStreams: options.maxConcurrentStreams,
    maxHeaderListSize: options.maxHeaderListBytes,
  }
}
