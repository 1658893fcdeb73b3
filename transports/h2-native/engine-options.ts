// The h2 transport's options as the native engine takes them.
import type { RawEngineOptions } from '../../native/engine.js'
import type { ResolvedH2Options } from '../h2/options.js'
import { H3_DEFAULTS, type ResolvedH3Options } from '../h3/options.js'

/** The engine's tuning fields for one side. */
export function engineTuning (options: ResolvedH2Options): Partial<RawEngineOptions> {
  return {
    maxStreams: options.maxConcurrentStreams,
    maxStreamData: options.streamWindowBytes,
    maxData: options.connectionWindowBytes,
    maxHeaderListBytes: options.maxHeaderListBytes,
    keepAliveMs: options.keepAliveMs,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs,
  }
}

/** The shared session layer (transports/h3) reads only keepAliveMs of these (its RTT sampling). */
export function sessionLayerOptions (options: ResolvedH2Options): ResolvedH3Options {
  return Object.freeze({ ...H3_DEFAULTS, keepAliveMs: options.keepAliveMs, maxConcurrentStreams: options.maxConcurrentStreams })
}
