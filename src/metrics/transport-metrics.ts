/**
 * Peer-session families fed by the transports through TransportObserver: sessions and streams
 * open and opened, keep-alive round trips, and handshakes by result.
 */
import type { Registry } from 'prom-client'
import type { TransportObserver } from '../../transports/contract.js'
import { RTT_BUCKETS } from './buckets.js'
import { LabelGuard } from './label-guard.js'
import { CounterFamily, GaugeFamily, HistogramFamily, observe, type HistogramCell, type ValueCell } from './series.js'

type Side = 'client' | 'server'

interface SideSeries {
  sessionsOpen: ValueCell
  sessions: ValueCell
  streamsOpen: ValueCell
  streams: ValueCell
}

export class TransportMetrics {
  private readonly sessionsOpen: GaugeFamily
  private readonly sessions: CounterFamily
  private readonly streamsOpen: GaugeFamily
  private readonly streams: CounterFamily
  private readonly rttFamily: HistogramFamily
  private readonly handshakes: CounterFamily
  private readonly sides = new Map<string, SideSeries>()
  private readonly rtts = new Map<string, HistogramCell>()
  private readonly handshakeCells = new Map<string, ValueCell>()
  /** Results are free text from each transport; bound them like authorities. */
  private readonly results = new LabelGuard(32)

  constructor (registry: Registry) {
    const labelNames = ['transport', 'side']
    this.sessionsOpen = new GaugeFamily({ registry, name: 'meshgate_transport_sessions_open', help: 'Peer sessions open now, by transport and side.', labelNames })
    this.sessions = new CounterFamily({ registry, name: 'meshgate_transport_sessions_total', help: 'Peer sessions opened, by transport and side.', labelNames })
    this.streamsOpen = new GaugeFamily({ registry, name: 'meshgate_transport_streams_open', help: 'Streams open now on peer sessions, by transport and side.', labelNames })
    this.streams = new CounterFamily({ registry, name: 'meshgate_transport_streams_total', help: 'Streams opened on peer sessions, by transport and side.', labelNames })
    this.rttFamily = new HistogramFamily({
      registry,
      name: 'meshgate_transport_session_rtt_seconds',
      help: 'Keep-alive round trips measured on peer sessions (h2 PING, QUIC), in seconds.',
      labelNames: ['transport'],
      buckets: RTT_BUCKETS,
    })
    this.handshakes = new CounterFamily({
      registry,
      name: 'meshgate_transport_handshakes_total',
      help: 'Peer session handshakes, by transport, side and result (`ok` or a failure reason).',
      labelNames: ['transport', 'side', 'result'],
    })
  }

  private side (transport: string, side: Side): SideSeries {
    const key = `${transport}\u0001${side}`
    let s = this.sides.get(key)
    if (s === undefined) {
      const values = [transport, side]
      s = {
        sessionsOpen: this.sessionsOpen.cell(values),
        sessions: this.sessions.cell(values),
        streamsOpen: this.streamsOpen.cell(values),
        streams: this.streams.cell(values),
      }
      this.sides.set(key, s)
    }
    return s
  }

  /** The hooks to pass as `TransportComponents.observer`. */
  observer (): Required<TransportObserver> {
    return {
      handshake: (transport, side, rawResult) => {
        const result = this.results.label(rawResult)
        const key = `${transport}\u0001${side}\u0001${result}`
        let cell = this.handshakeCells.get(key)
        if (cell === undefined) {
          cell = this.handshakes.cell([transport, side, result])
          this.handshakeCells.set(key, cell)
        }
        cell.value++
      },
      sessionOpened: (transport, side) => {
        const s = this.side(transport, side)
        s.sessionsOpen.value++
        s.sessions.value++
      },
      sessionClosed: (transport, side) => {
        const s = this.side(transport, side)
        if (s.sessionsOpen.value > 0) s.sessionsOpen.value--
      },
      streamOpened: (transport, side) => {
        const s = this.side(transport, side)
        s.streamsOpen.value++
        s.streams.value++
      },
      streamClosed: (transport, side) => {
        const s = this.side(transport, side)
        if (s.streamsOpen.value > 0) s.streamsOpen.value--
      },
      rtt: (transport, seconds) => {
        let cell = this.rtts.get(transport)
        if (cell === undefined) {
          cell = this.rttFamily.cell([transport])
          this.rtts.set(transport, cell)
        }
        observe(cell, seconds)
      },
    }
  }
}
