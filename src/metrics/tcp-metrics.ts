/**
 * TCP tunnel families fed by TunnelEvent: opens, closes by error code, bytes each way, open
 * connections and connection lifetimes. A `close` is expected after each `open`; the open gauge
 * never goes below zero if a role reports a close for a tunnel it never reported open.
 */
import type { Registry } from 'prom-client'
import type { TunnelEvent } from '../telemetry.js'
import { CONNECTION_DURATION_BUCKETS } from './buckets.js'
import type { LabelGuard } from './label-guard.js'
import { CounterFamily, GaugeFamily, HistogramFamily, observe, type HistogramCell, type ValueCell } from './series.js'

interface OpenSeries {
  opens: ValueCell
  open: ValueCell
}

interface CloseSeries {
  closes: ValueCell
  open: ValueCell
  read: ValueCell
  written: ValueCell
  duration: HistogramCell
}

export class TcpMetrics {
  private readonly opens: CounterFamily
  private readonly closes: CounterFamily
  private readonly read: CounterFamily
  private readonly written: CounterFamily
  private readonly open: GaugeFamily
  private readonly duration: HistogramFamily
  private readonly openSeries = new Map<string, OpenSeries>()
  private readonly closeSeries = new Map<string, CloseSeries>()
  private readonly authorities: LabelGuard
  private readonly identities: LabelGuard

  constructor (registry: Registry, authorities: LabelGuard, identities: LabelGuard) {
    this.authorities = authorities
    this.identities = identities
    this.opens = new CounterFamily({
      registry,
      name: 'meshgate_tcp_open_total',
      help: 'TCP tunnels opened, by direction, authority, caller and transport.',
      labelNames: ['direction', 'authority', 'identity', 'peer_identity', 'transport'],
    })
    this.closes = new CounterFamily({
      registry,
      name: 'meshgate_tcp_close_total',
      help: 'TCP tunnels closed, by direction, authority and error code (empty when clean).',
      labelNames: ['direction', 'authority', 'error_code'],
    })
    this.read = new CounterFamily({
      registry,
      name: 'meshgate_tcp_read_bytes_total',
      help: 'Bytes read into TCP tunnels (TunnelEvent.bytesIn), counted when the tunnel closes, in bytes.',
      labelNames: ['direction', 'authority'],
    })
    this.written = new CounterFamily({
      registry,
      name: 'meshgate_tcp_write_bytes_total',
      help: 'Bytes written out of TCP tunnels (TunnelEvent.bytesOut), counted when the tunnel closes, in bytes.',
      labelNames: ['direction', 'authority'],
    })
    this.open = new GaugeFamily({
      registry,
      name: 'meshgate_tcp_open_connections',
      help: 'TCP tunnels open now.',
      labelNames: ['direction', 'authority'],
    })
    this.duration = new HistogramFamily({
      registry,
      name: 'meshgate_tcp_connection_duration_seconds',
      help: 'Lifetime of closed TCP tunnels, in seconds.',
      labelNames: ['direction', 'authority'],
      buckets: CONNECTION_DURATION_BUCKETS,
    })
  }

  tunnel (e: TunnelEvent): void {
    const authority = this.authorities.label(e.authority)
    if (e.phase === 'open') {
      const identity = this.identities.label(e.identity)
      const peerIdentity = this.identities.label(e.peerIdentity)
      const key = `${e.direction}\u0001${authority}\u0001${identity}\u0001${peerIdentity}\u0001${e.transport}`
      let s = this.openSeries.get(key)
      if (s === undefined) {
        s = {
          opens: this.opens.cell([e.direction, authority, identity, peerIdentity, e.transport]),
          open: this.open.cell([e.direction, authority]),
        }
        this.openSeries.set(key, s)
      }
      s.opens.value++
      s.open.value++
      return
    }
    const errorCode = e.errorCode ?? ''
    const key = `${e.direction}\u0001${authority}\u0001${errorCode}`
    let s = this.closeSeries.get(key)
    if (s === undefined) {
      s = {
        closes: this.closes.cell([e.direction, authority, errorCode]),
        open: this.open.cell([e.direction, authority]),
        read: this.read.cell([e.direction, authority]),
        written: this.written.cell([e.direction, authority]),
        duration: this.duration.cell([e.direction, authority]),
      }
      this.closeSeries.set(key, s)
    }
    s.closes.value++
    if (s.open.value > 0) s.open.value--
    s.read.value += e.bytesIn
    s.written.value += e.bytesOut
    observe(s.duration, e.durationSeconds)
  }
}
