/**
 * Families about how peer traffic picks and keeps a transport: fallbacks of `auto` endpoints from
 * h3 to h2 (fed by the TransportSelector), and QUIC loss recovery sampled from h3 sessions (fed by
 * the transport's QuicPathObserver hook).
 */
import type { Registry } from 'prom-client'
import type { QuicPathObserver } from '../../transports/contract.js'
import { LabelGuard } from './label-guard.js'
import { CounterFamily, GaugeFamily, type ValueCell } from './series.js'

export class TransportSelectionMetrics {
  private readonly fallbacksFamily: CounterFamily
  private readonly lostFamily: CounterFamily
  private readonly ptoFamily: CounterFamily
  private readonly cwndFamily: GaugeFamily
  private readonly fallbackCells = new Map<string, ValueCell>()
  private readonly pathCells = new Map<string, { lost: ValueCell, pto: ValueCell, cwnd: ValueCell }>()
  /** Reasons are error codes (a closed set) but bound them anyway, as handshake results are. */
  private readonly reasons = new LabelGuard(32)

  constructor (registry: Registry) {
    this.fallbacksFamily = new CounterFamily({
      registry,
      name: 'meshgate_transport_fallbacks_total',
      help: 'Times an `auto` endpoint\'s peer was moved from one transport to another (h3 to h2) because the first failed, by reason (error code).',
      labelNames: ['from', 'to', 'reason'],
    })
    this.lostFamily = new CounterFamily({
      registry,
      name: 'meshgate_transport_lost_packets_total',
      help: 'QUIC packets carrying stream data declared lost on client sessions (RFC 9002 §6), by transport.',
      labelNames: ['transport'],
    })
    this.ptoFamily = new CounterFamily({
      registry,
      name: 'meshgate_transport_probe_timeouts_total',
      help: 'QUIC probe timeouts (PTO, RFC 9002 §6.2) on client sessions, by transport.',
      labelNames: ['transport'],
    })
    this.cwndFamily = new GaugeFamily({
      registry,
      name: 'meshgate_transport_congestion_window_bytes',
      help: 'Congestion window of the most recently sampled QUIC client session (RFC 9002 §7), in bytes.',
      labelNames: ['transport'],
    })
  }

  /** Counts one fallback (the TransportSelector's `onFallback`). */
  fallback (from: string, to: string, rawReason: string): void {
    const reason = this.reasons.label(rawReason)
    const key = `${from}\u0001${to}\u0001${reason}`
    let cell = this.fallbackCells.get(key)
    if (cell === undefined) {
      cell = this.fallbacksFamily.cell([from, to, reason])
      this.fallbackCells.set(key, cell)
    }
    cell.value++
  }

  /** The QUIC hook to merge into `TransportComponents.observer`. */
  observer (): Required<QuicPathObserver> {
    return {
      quicPath: (transport, sample) => {
        let cells = this.pathCells.get(transport)
        if (cells === undefined) {
          cells = { lost: this.lostFamily.cell([transport]), pto: this.ptoFamily.cell([transport]), cwnd: this.cwndFamily.cell([transport]) }
          this.pathCells.set(transport, cells)
        }
        cells.lost.value += sample.lostPackets
        cells.pto.value += sample.probeTimeouts
        cells.cwnd.value = sample.cwndBytes
      },
    }
  }
}
