/**
 * `meshgate top`: the live per-authority table (rate, success, p50, p99) in the terminal, from the
 * deltas between consecutive scrapes of an admin server's /metrics.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { diff, formatValue, summarize, type Point, type Row, type Snapshot } from './metrics/rates.js'
import { parseMetricsText } from './metrics/text-format.js'

export interface TopOptions {
  /** The admin server, e.g. `http://127.0.0.1:4191`. */
  adminUrl: string
  /** Time between frames, ms (default 1 s). */
  intervalMs?: number
  /** Frames to render before resolving (default: until `signal` aborts). */
  iterations?: number
  /** Where frames go (default stdout); a TTY is cleared between frames. */
  output?: NodeJS.WritableStream & { isTTY?: boolean }
  /** Rows shown at most, busiest first (default 30). */
  maxRows?: number
  signal?: AbortSignal
}

const CLEAR = '\u001b[H\u001b[2J'

async function scrape (url: string, signal?: AbortSignal): Promise<Snapshot> {
  const res = await fetch(url, { signal })
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`)
  return summarize(parseMetricsText(await res.text()), performance.now())
}

function pad (cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd()
}

/** One frame of the table as text (exported for tests). */
export function renderTopFrame (point: Point, rows: Row[], adminUrl: string, maxRows = 30): string {
  const header = ['AUTHORITY', 'DIRECTION', 'RPS', 'SUCCESS', 'P50', 'P99', 'ROUTE']
  const body = rows.slice(0, maxRows).map((r) => [
    r.authority, r.direction, formatValue(r.rps, '/s'), formatValue(r.success, '%'), formatValue(r.p50, 's'), formatValue(r.p99, 's'), r.route === '' ? '-' : r.route,
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  const lines = [
    `meshgate top · ${adminUrl} · ${new Date().toISOString().slice(11, 19)} · ${formatValue(point.rps, '/s')} · ` +
      `success ${formatValue(point.success, '%')} · p99 ${formatValue(point.p99, 's')} · tunnels ${point.tunnels}`,
    '',
    pad(header, widths),
    ...body.map((b) => pad(b, widths)),
  ]
  if (rows.length === 0) lines.push('(no requests yet)')
  if (rows.length > maxRows) lines.push(`… ${rows.length - maxRows} more`)
  return `${lines.join('\n')}\n`
}

/**
 * Renders the table every `intervalMs` until `iterations` frames were shown or `signal` aborts.
 * Rejects if the first scrape fails (wrong URL, admin down); later failures are shown in place.
 */
export async function runTop (options: TopOptions): Promise<void> {
  const { adminUrl, intervalMs = 1000, iterations = Infinity, maxRows = 30, signal } = options
  const output = options.output ?? process.stdout
  const url = new URL('/metrics', adminUrl).toString()
  const aborted = (): boolean => signal?.aborted === true
  let prev = await scrape(url, signal)
  for (let frame = 0; frame < iterations && !aborted(); frame++) {
    try {
      await sleep(intervalMs, undefined, { signal })
    } catch {
      return // aborted
    }
    let text: string
    try {
      const cur = await scrape(url, signal)
      const { point, rows } = diff(prev, cur)
      prev = cur
      text = renderTopFrame(point, rows, adminUrl, maxRows)
    } catch (err) {
      if (aborted()) return
      text = `meshgate top · ${adminUrl} unreachable: ${err instanceof Error ? err.message : String(err)}\n`
    }
    output.write(output.isTTY === true ? CLEAR + text : text)
  }
}
