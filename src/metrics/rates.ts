/**
 * The live view of a process' traffic from two scrapes of /metrics: request rate, success rate and
 * p50/p99 per authority, tunnels and bytes, sessions per transport. Shared by `meshgate top` and the
 * dashboard, which embeds these functions' source (so they stay self-contained: no module-level
 * helpers, only each other, `histogramQuantile` and globals).
 */
import { histogramQuantile, type Sample } from './text-format.js'

export interface RequestTotals {
  direction: string
  authority: string
  /** The route (`''`: none). */
  route: string
  total: number
  ok: number
}

/** What one scrape of /metrics says, reduced to what the page shows. */
export interface Snapshot {
  /** performance.now() at the scrape, ms. */
  t: number
  requests: Record<string, RequestTotals>
  /** Per `direction authority route`: cumulative bucket counts by `le`. */
  latency: Record<string, Record<string, number>>
  tunnelsOpen: number
  tcpRead: number
  tcpWrite: number
  sessions: Record<string, { transport: string, side: string, sessions: number, streams: number }>
}

export interface Row {
  direction: string
  authority: string
  /** The route these requests took (`''`: none, the service as is). */
  route: string
  rps: number
  success: number
  p50: number
  p99: number
}

/** One point of the charts' history, from two consecutive scrapes. */
export interface Point {
  rps: number
  success: number
  p50: number
  p99: number
  tunnels: number
  readBps: number
  writeBps: number
  byAuthority: Record<string, number>
}

/** Reduces parsed samples to a Snapshot. */
export function summarize (samples: Sample[], t: number): Snapshot {
  const snap: Snapshot = { t, requests: {}, latency: {}, tunnelsOpen: 0, tcpRead: 0, tcpWrite: 0, sessions: {} }
  for (const s of samples) {
    const l = s.labels
    if (s.name === 'meshgate_requests_total') {
      const key = `${l.direction} ${l.authority} ${l.route ?? ''}`
      const r = snap.requests[key] ?? (snap.requests[key] = { direction: l.direction, authority: l.authority, route: l.route ?? '', total: 0, ok: 0 })
      r.total += s.value
      // Success: a response below 500 (meshgate's own 4xx answers count as answered, not failed).
      if (l.status_class !== '5xx' && l.status_class !== 'none') r.ok += s.value
    } else if (s.name === 'meshgate_request_duration_seconds_bucket') {
      const key = `${l.direction} ${l.authority} ${l.route ?? ''}`
      const b = snap.latency[key] ?? (snap.latency[key] = {})
      b[l.le] = (b[l.le] ?? 0) + s.value
    } else if (s.name === 'meshgate_tcp_open_connections') {
      snap.tunnelsOpen += s.value
    } else if (s.name === 'meshgate_tcp_read_bytes_total') {
      snap.tcpRead += s.value
    } else if (s.name === 'meshgate_tcp_write_bytes_total') {
      snap.tcpWrite += s.value
    } else if (s.name === 'meshgate_transport_sessions_open' || s.name === 'meshgate_transport_streams_open') {
      const key = `${l.transport} ${l.side}`
      const x = snap.sessions[key] ?? (snap.sessions[key] = { transport: l.transport, side: l.side, sessions: 0, streams: 0 })
      if (s.name === 'meshgate_transport_sessions_open') x.sessions += s.value
      else x.streams += s.value
    }
  }
  return snap
}

/** Rates between two snapshots: the new chart point and the per-authority rows. */
export function diff (prev: Snapshot, cur: Snapshot): { point: Point, rows: Row[] } {
  const dt = Math.max(0.001, (cur.t - prev.t) / 1000)
  // A counter that went down was reset: count from zero.
  const delta = (a: number, b: number | undefined): number => (b === undefined || a < b ? a : a - b)
  const rows: Row[] = []
  const byAuthority: Record<string, number> = {}
  const allBuckets: Record<string, number> = {}
  let total = 0
  let ok = 0
  for (const key of Object.keys(cur.requests)) {
    const c = cur.requests[key]
    const p = prev.requests[key]
    const dTotal = delta(c.total, p?.total)
    const dOk = delta(c.ok, p?.ok)
    total += dTotal
    ok += dOk
    byAuthority[c.authority] = (byAuthority[c.authority] ?? 0) + dTotal / dt
    const buckets: Array<[number, number]> = []
    const cb = cur.latency[key] ?? {}
    const pb = prev.latency[key] ?? {}
    for (const le of Object.keys(cb)) {
      const d = delta(cb[le], pb[le])
      buckets.push([le === '+Inf' ? Infinity : Number(le), d])
      allBuckets[le] = (allBuckets[le] ?? 0) + d
    }
    rows.push({
      direction: c.direction,
      authority: c.authority,
      route: c.route ?? '',
      rps: dTotal / dt,
      success: dTotal > 0 ? dOk / dTotal : NaN,
      p50: histogramQuantile(0.5, buckets),
      p99: histogramQuantile(0.99, buckets),
    })
  }
  rows.sort((a, b) => b.rps - a.rps || (a.authority < b.authority ? -1 : a.authority > b.authority ? 1 : a.route < b.route ? -1 : 1))
  const merged: Array<[number, number]> = Object.keys(allBuckets).map((le) => [le === '+Inf' ? Infinity : Number(le), allBuckets[le]])
  return {
    rows,
    point: {
      rps: total / dt,
      success: total > 0 ? ok / total : NaN,
      p50: histogramQuantile(0.5, merged),
      p99: histogramQuantile(0.99, merged),
      tunnels: cur.tunnelsOpen,
      readBps: delta(cur.tcpRead, prev.tcpRead) / dt,
      writeBps: delta(cur.tcpWrite, prev.tcpWrite) / dt,
      byAuthority,
    },
  }
}

/** Short human form of a value: `12.3/s`, `99.5%`, `3.20 ms`, `1.2 MB/s`. */
export function formatValue (v: number, unit: string): string {
  if (!Number.isFinite(v)) return '–'
  if (unit === '%') return `${(v * 100).toFixed(v >= 0.9995 ? 0 : 1)}%`
  if (unit === 's') {
    const ms = v * 1000
    return ms < 1000 ? `${ms.toFixed(ms < 9.995 ? 2 : 1)} ms` : `${v.toFixed(2)} s`
  }
  if (unit === 'B/s') {
    if (v >= 1e6) return `${(v / 1e6).toFixed(1)} MB/s`
    if (v >= 1e3) return `${(v / 1e3).toFixed(1)} kB/s`
    return `${v.toFixed(0)} B/s`
  }
  if (unit === '/s') return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)}/s`
  return String(Math.round(v))
}
