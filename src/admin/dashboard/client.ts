/**
 * The dashboard's browser program. Never run by Node: script.ts embeds these functions' compiled
 * source (Function.prototype.toString) in /dashboard.js, so each one refers only to browser globals,
 * to the others listed in script.ts, and to the live model and text-format reader embedded beside them.
 */
import { diff, formatValue, summarize, type Point, type Row, type Snapshot } from '../../metrics/rates.js'
import { parseMetricsText } from '../../metrics/text-format.js'

export interface ChartSeries {
  label: string
  color: string
  values: number[]
}

/** Draws line series on a canvas, newest point on the right; NaN leaves a gap. */
export function drawChart (canvas: HTMLCanvasElement, series: ChartSeries[], unit: string, capacity: number): void {
  const ratio = window.devicePixelRatio || 1
  const width = canvas.clientWidth
  const height = canvas.clientHeight
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio)
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio)
  const g = canvas.getContext('2d')
  if (g === null) return
  g.setTransform(ratio, 0, 0, ratio, 0, 0)
  g.clearRect(0, 0, width, height)
  const left = 64
  const top = 8
  const plotW = width - left - 8
  const plotH = height - top - 22
  let max = unit === '%' ? 1 : 0
  for (const s of series) for (const v of s.values) if (Number.isFinite(v) && v > max) max = v
  if (max === 0) max = 1
  g.font = '11px system-ui, sans-serif'
  g.fillStyle = '#8b949e'
  g.strokeStyle = '#30363d'
  g.lineWidth = 1
  for (let i = 0; i <= 4; i++) {
    const y = top + plotH - (plotH * i) / 4
    g.beginPath()
    g.moveTo(left, y)
    g.lineTo(left + plotW, y)
    g.stroke()
    g.fillText(formatValue((max * i) / 4, unit), 4, y + 4)
  }
  const step = plotW / Math.max(1, capacity - 1)
  let legendX = left
  for (const s of series) {
    g.strokeStyle = s.color
    g.lineWidth = 2
    g.beginPath()
    let drawing = false
    const offset = capacity - s.values.length
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) {
        drawing = false
        return
      }
      const x = left + (offset + i) * step
      const y = top + plotH - (plotH * v) / max
      if (drawing) g.lineTo(x, y)
      else g.moveTo(x, y)
      drawing = true
    })
    g.stroke()
    g.fillStyle = s.color
    g.fillRect(legendX, height - 12, 10, 3)
    g.fillStyle = '#c9d1d9'
    g.fillText(s.label, legendX + 14, height - 7)
    legendX += 24 + g.measureText(s.label).width
  }
  canvas.dataset.points = String(Math.max(0, ...series.map((s) => s.values.filter((v) => Number.isFinite(v)).length)))
}

/** Replaces a table body's rows; cells are text only (tap data comes from traffic, never HTML). */
export function fillTable (tbody: HTMLElement, rows: string[][]): void {
  const fragment = document.createDocumentFragment()
  for (const cells of rows) {
    const tr = document.createElement('tr')
    for (const text of cells) {
      const td = document.createElement('td')
      td.textContent = text
      tr.appendChild(td)
    }
    fragment.appendChild(tr)
  }
  tbody.replaceChildren(fragment)
}

/** One tap record as table cells. */
export function tapCells (r: Record<string, unknown>): string[] {
  const str = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '')
  const time = str(r.time).slice(11, 23)
  const who = str(r.identity).replace(/^spiffe:\/\/[^/]+\//, '')
  const err = str(r.errorCode)
  if (r.type === 'tunnel') {
    const bytes = r.phase === 'close' ? `${str(r.bytesIn)}↓ ${str(r.bytesOut)}↑` : ''
    return [time, 'TCP', str(r.direction), str(r.phase), str(r.authority), bytes, err, r.phase === 'close' ? formatValue(Number(r.durationSeconds), 's') : '', who]
  }
  return [time, 'HTTP', str(r.direction), str(r.method), str(r.authority), str(r.path), err === '' ? str(r.status) : `${str(r.status)} ${err}`, formatValue(Number(r.durationSeconds), 's'), who]
}

/** Boots the page: polls /metrics, draws, and follows /tap. */
export function dashboardMain (): void {
  const params = new URLSearchParams(location.search)
  const interval = Math.max(100, Number(params.get('interval')) || 1000)
  const capacity = 120
  const colors = ['#58a6ff', '#3fb950', '#d29922', '#f778ba', '#a371f7', '#39c5cf']
  const $ = (id: string): HTMLElement => {
    const el = document.getElementById(id)
    if (el === null) throw new Error(`missing #${id}`)
    return el
  }
  const history: Point[] = []
  let prev: Snapshot | undefined
  let updates = 0

  const render = (point: Point, rows: Row[], snap: Snapshot): void => {
    $('kpi-rps').textContent = formatValue(point.rps, '/s')
    $('kpi-success').textContent = formatValue(point.success, '%')
    $('kpi-p50').textContent = formatValue(point.p50, 's')
    $('kpi-p99').textContent = formatValue(point.p99, 's')
    $('kpi-tunnels').textContent = formatValue(point.tunnels, '')
    $('kpi-bytes').textContent = formatValue(point.readBps + point.writeBps, 'B/s')
    let sessions = 0
    for (const k of Object.keys(snap.sessions)) sessions += snap.sessions[k].sessions
    $('kpi-sessions').textContent = formatValue(sessions, '')

    const top = Object.keys(point.byAuthority).sort((a, b) => point.byAuthority[b] - point.byAuthority[a]).slice(0, 4)
    const rpsSeries: ChartSeries[] = [{ label: 'all', color: colors[0], values: history.map((p) => p.rps) }]
    top.forEach((a, i) => rpsSeries.push({ label: a, color: colors[i + 1], values: history.map((p) => p.byAuthority[a] ?? 0) }))
    drawChart($('chart-rps') as HTMLCanvasElement, rpsSeries, '/s', capacity)
    drawChart($('chart-success') as HTMLCanvasElement, [{ label: 'success', color: colors[1], values: history.map((p) => p.success) }], '%', capacity)
    drawChart($('chart-latency') as HTMLCanvasElement, [
      { label: 'p50', color: colors[0], values: history.map((p) => p.p50) },
      { label: 'p99', color: colors[2], values: history.map((p) => p.p99) },
    ], 's', capacity)
    drawChart($('chart-tcp') as HTMLCanvasElement, [
      { label: 'read', color: colors[4], values: history.map((p) => p.readBps) },
      { label: 'write', color: colors[5], values: history.map((p) => p.writeBps) },
    ], 'B/s', capacity)

    fillTable($('authorities'), rows.map((r) => [r.authority, r.direction, formatValue(r.rps, '/s'), formatValue(r.success, '%'), formatValue(r.p50, 's'), formatValue(r.p99, 's'), r.route === '' ? '–' : r.route]))
    fillTable($('sessions'), Object.keys(snap.sessions).sort().map((k) => {
      const s = snap.sessions[k]
      return [s.transport, s.side, String(s.sessions), String(s.streams)]
    }))
    updates++
    document.body.dataset.updates = String(updates)
  }

  const poll = async (): Promise<void> => {
    try {
      const res = await fetch('metrics', { cache: 'no-store' })
      const text = await res.text()
      const snap = summarize(parseMetricsText(text), performance.now())
      if (prev !== undefined) {
        const { point, rows } = diff(prev, snap)
        history.push(point)
        if (history.length > capacity) history.shift()
        render(point, rows, snap)
      }
      prev = snap
      $('status').textContent = `live · every ${interval} ms`
      $('status').className = 'ok'
    } catch {
      $('status').textContent = 'admin server unreachable'
      $('status').className = 'bad'
    }
    setTimeout(() => { poll().catch(() => {}) }, interval)
  }

  const tapRows: string[][] = []
  let tapAbort: AbortController | undefined
  let dropped = 0
  const follow = async (): Promise<void> => {
    tapAbort?.abort()
    const abort = new AbortController()
    tapAbort = abort
    const query = new URLSearchParams()
    for (const k of ['authority', 'pathPrefix', 'method', 'identity']) {
      const v = ($(`tap-${k}`) as HTMLInputElement).value.trim()
      if (v !== '') query.set(k, v)
    }
    $('tap-state').textContent = 'following'
    tapRows.length = 0
    fillTable($('tap'), tapRows)
    $('tap').dataset.rows = '0'
    try {
      const res = await fetch(`tap?${query.toString()}`, { signal: abort.signal })
      if (res.body === null) return
      const reader = res.body.getReader()
      const decoder = new TextDecoder()
      let buffer = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += decoder.decode(value, { stream: true })
        let nl
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const record = JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>
          buffer = buffer.slice(nl + 1)
          if (record.type === 'dropped') {
            dropped += Number(record.count)
            $('tap-dropped').textContent = `${dropped} dropped by the rate limit`
          } else if (record.type === 'request' || record.type === 'tunnel') {
            tapRows.unshift(tapCells(record))
            if (tapRows.length > 100) tapRows.pop()
            fillTable($('tap'), tapRows)
            $('tap').dataset.rows = String(tapRows.length)
          }
        }
      }
    } catch {
      // Aborted (paused, new filter) or the server went away.
    }
    if (tapAbort === abort) {
      $('tap-state').textContent = 'reconnecting'
      setTimeout(() => { if (tapAbort === abort) follow().catch(() => {}) }, 2000)
    }
  }
  $('tap-form').addEventListener('submit', (e) => {
    e.preventDefault()
    follow().catch(() => {})
  })
  $('tap-pause').addEventListener('click', () => {
    tapAbort?.abort()
    tapAbort = undefined
    $('tap-state').textContent = 'paused'
  })

  // Both catch their own failures; the catch here only keeps a rejection from going unhandled.
  poll().catch(() => {})
  follow().catch(() => {})
}
