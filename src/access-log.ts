/**
 * The access log: one `access` log line per HTTP exchange (at its response head) and per tunnel
 * (when it closes), sampled, off by default. A Telemetry subscriber like metrics and the tap.
 */
import type { Logger } from 'pino'
import { noopTelemetry, type Telemetry } from './telemetry.js'

export interface AccessLogOptions {
  enabled: boolean
  /** Share of exchanges and tunnels logged, 0–1. */
  sampleRate: number
  /** Source of randomness for sampling (tests pass a fixed one). */
  random?: () => number
}

export function accessLog (logger: Logger, options: AccessLogOptions): Telemetry {
  if (!options.enabled || options.sampleRate <= 0) return noopTelemetry
  const log = logger.child({ component: 'access' })
  const random = options.random ?? Math.random
  const sampled = options.sampleRate >= 1 ? () => true : () => random() < options.sampleRate
  return {
    request: (e) => {
      if (!sampled()) return
      log.info({
        requestId: e.requestId,
        direction: e.direction,
        protocol: e.protocol,
        method: e.method,
        authority: e.authority,
        path: e.path,
        status: e.status,
        code: e.errorCode,
        identity: e.identity,
        peerIdentity: e.peerIdentity === '' ? undefined : e.peerIdentity,
        transport: e.transport,
        durationMs: Math.round(e.durationSeconds * 1e6) / 1e3,
      }, 'request')
    },
    requestEnd: () => {},
    tunnel: (e) => {
      if (e.phase !== 'close' || !sampled()) return
      log.info({
        direction: e.direction,
        authority: e.authority,
        code: e.errorCode,
        identity: e.identity,
        peerIdentity: e.peerIdentity === '' ? undefined : e.peerIdentity,
        transport: e.transport,
        bytesIn: e.bytesIn,
        bytesOut: e.bytesOut,
        durationMs: Math.round(e.durationSeconds * 1e6) / 1e3,
      }, 'tunnel')
    },
  }
}
