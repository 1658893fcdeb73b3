// Samples a QUIC session's recovery state (RTT, losses, probe timeouts, congestion window) for the observer.
import type { QuicSession } from '../../native/quic.js'
import type { QuicPathObserver, TransportObserver } from '../contract.js'

/** Sampling interval when keep-alive is off, ms (10 s). */
const DEFAULT_INTERVAL_MS = 10_000

/**
 * Reads `session.stats()` once now and then every `intervalMs` (one addon call, no packets): the
 * smoothed RTT goes to `observer.rtt`, loss and probe-timeout increments and the congestion window
 * to `observer.quicPath`. QUIC measures RTT from every ACK (RFC 9002 §5), so unlike h2 no PING is
 * needed for it; keep-alive PINGs only keep a quiet session's samples fresh.
 */
export class QuicCounters {
  readonly #session: QuicSession
  readonly #observer: (TransportObserver & QuicPathObserver) | undefined
  readonly #timer: NodeJS.Timeout | undefined
  readonly #transport: 'h3' | 'h2'
  #lost = 0
  #pto = 0

  /** `transport` h2 (the native engine's sessions) samples the RTT only: no QUIC recovery state. */
  constructor (session: QuicSession, observer: (TransportObserver & QuicPathObserver) | undefined, intervalMs: number, transport: 'h3' | 'h2' = 'h3') {
    this.#session = session
    this.#transport = transport
    this.#observer = observer
    if (observer?.rtt === undefined && observer?.quicPath === undefined) return
    this.sample()
    this.#timer = setInterval(() => this.sample(), intervalMs > 0 ? intervalMs : DEFAULT_INTERVAL_MS)
    this.#timer.unref()
  }

  /** One sample; a no-op once the session is closed. */
  sample (): void {
    if (this.#session.closed) return
    const stats = this.#session.stats()
    if (stats === undefined) return
    if (stats.smoothedRttMs > 0) this.#observer?.rtt?.(this.#transport, stats.smoothedRttMs / 1000)
    if (this.#transport !== 'h3') return
    const lost = stats.lostStreamPackets - this.#lost
    const pto = stats.ptoCount - this.#pto
    this.#lost = stats.lostStreamPackets
    this.#pto = stats.ptoCount
    this.#observer?.quicPath?.('h3', { lostPackets: Math.max(0, lost), probeTimeouts: Math.max(0, pto), cwndBytes: stats.cwnd })
  }

  stop (): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
  }
}
