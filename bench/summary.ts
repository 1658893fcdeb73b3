/**
 * Turns raw suite results into the figures the report shows: per scenario and path the median
 * over rounds of the rate and latencies, CPU seconds and peak RSS of each proxy process, the cost
 * in CPU per unit of work, and ratios to the direct path and to the HAProxy pair.
 */
import type { Scenario } from './scenarios/types.js'
import type { SuiteResults } from './suite.js'

export interface PathFigures {
  path: string
  title: string
  /** Rounds that produced a measurement. */
  rounds: number
  /** Median over rounds of the headline figure. */
  value?: number
  /** Every round's headline figure, in order. */
  values: number[]
  p50Ms?: number
  p99Ms?: number
  /** Open-loop scenarios: median p90 over rounds. */
  p90Ms?: number
  /** Open-loop scenarios: the highest latency of any round. */
  maxMs?: number
  /** Open-loop scenarios: the rate offered, req/s. */
  offeredRate?: number
  /** Open-loop scenarios: sum over rounds of requests that waited for a free connection. */
  queued?: number
  /**
   * Per proxy process, CPU per unit of work (median over rounds). For requests, µs per request,
   * which is also CPU ms per second at 1,000 req/s: the open-loop "CPU per 1,000 req/s".
   */
  cpuPerUnitByProcess: Record<string, number>
  /** Sum over rounds of failed requests (or retransmits for bulk). */
  errors: number
  /** Per proxy process: median CPU seconds used during the scenario. */
  cpuSeconds: Record<string, number>
  /** Per proxy process: highest RSS seen during the scenario in any round, bytes. */
  peakRssBytes: Record<string, number>
  /** All proxy processes' CPU per unit of work: µs per request, or ms per MB. */
  cpuPerUnit?: number
  vsDirect?: number
  vsHaproxyPair?: number
  /** p99 latency over the HAProxy pair's. */
  p99VsHaproxyPair?: number
  /** CPU per unit over the HAProxy pair's. */
  cpuVsHaproxyPair?: number
  /** First error seen, if any round failed. */
  error?: string
}

export interface ScenarioFigures {
  id: string
  title: string
  tool: string
  unit: 'req/s' | 'MB/s'
  /** Unit of `cpuPerUnit`. */
  cpuUnit: string
  /** Scenario.kind: open-loop scenarios get their own table. */
  kind: 'closed-loop' | 'open-loop'
  paths: PathFigures[]
}

export interface ProcessMemory {
  name: string
  idleRssBytes: number
  /** The file-backed part of the idle RSS (RssFile), bytes. */
  idleFileBytes: number
  rssAfterRoundBytes: number[]
  /** JS heap in use (Node processes with metrics only). */
  idleHeapUsedBytes?: number
  heapUsedAfterRoundBytes?: number[]
}

export interface PathMemory {
  path: string
  title: string
  available: boolean
  reason?: string
  /** What the path ran (e.g. the meshgate pair's data plane). */
  description?: string
  processes: ProcessMemory[]
}

export interface BenchSummary {
  scenarios: ScenarioFigures[]
  memory: PathMemory[]
}

export function median (values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

function ratio (a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b
}

export function summarise (results: SuiteResults, scenarios: readonly Scenario[]): BenchSummary {
  const summaries: ScenarioFigures[] = []
  for (const scenario of scenarios) {
    const runsOf = results.runs.filter((r) => r.scenario === scenario.id)
    const unit = runsOf.find((r) => r.measurement !== undefined)?.measurement?.unit ?? 'req/s'
    const cpuScale = unit === 'req/s' ? 1e6 : 1e3
    const figures: PathFigures[] = []
    for (const path of results.paths) {
      const runs = runsOf.filter((r) => r.path === path.id)
      if (runs.length === 0) continue
      const measured = runs.filter((r) => r.measurement !== undefined)
      const pick = (f: (r: typeof measured[number]) => number | undefined): number | undefined =>
        median(measured.map(f).filter((v): v is number => v !== undefined && Number.isFinite(v)))
      const names = [...new Set(runs.flatMap((r) => Object.keys(r.usage)))]
      const cpuSeconds: Record<string, number> = {}
      const peakRssBytes: Record<string, number> = {}
      const cpuPerUnitByProcess: Record<string, number> = {}
      for (const name of names) {
        cpuSeconds[name] = median(runs.map((r) => r.usage[name]?.cpuSeconds).filter((v): v is number => v !== undefined)) ?? 0
        peakRssBytes[name] = Math.max(...runs.map((r) => r.usage[name]?.peakRssBytes ?? 0))
        const perUnit = median(measured.map((r) => (r.usage[name]?.cpuSeconds ?? NaN) * cpuScale / (r.measurement?.work ?? 0)).filter(Number.isFinite))
        if (perUnit !== undefined) cpuPerUnitByProcess[name] = perUnit
      }
      const maxima = measured.map((r) => r.measurement?.maxMs).filter((v): v is number => v !== undefined && Number.isFinite(v))
      const cpuPerUnit = names.length === 0
        ? undefined
        : median(measured.map((r) => names.reduce((sum, n) => sum + (r.usage[n]?.cpuSeconds ?? 0), 0) * cpuScale / (r.measurement?.work ?? 0)).filter(Number.isFinite))
      figures.push({
        path: path.id,
        title: path.title,
        rounds: measured.length,
        value: pick((r) => r.measurement?.value),
        values: measured.map((r) => r.measurement?.value ?? 0),
        p50Ms: pick((r) => r.measurement?.p50Ms),
        p99Ms: pick((r) => r.measurement?.p99Ms),
        p90Ms: pick((r) => r.measurement?.p90Ms),
        maxMs: maxima.length === 0 ? undefined : Math.max(...maxima),
        offeredRate: pick((r) => r.measurement?.offeredRate),
        queued: measured.some((r) => r.measurement?.queued !== undefined) ? measured.reduce((sum, r) => sum + (r.measurement?.queued ?? 0), 0) : undefined,
        cpuPerUnitByProcess,
        errors: measured.reduce((sum, r) => sum + (r.measurement?.errors ?? 0), 0),
        cpuSeconds,
        peakRssBytes,
        cpuPerUnit,
        error: runs.find((r) => r.error !== undefined)?.error,
      })
    }
    const direct = figures.find((f) => f.path === 'direct')
    const haproxy = figures.find((f) => f.path === 'haproxy-pair')
    for (const f of figures) {
      if (f.path !== 'direct') f.vsDirect = ratio(f.value, direct?.value)
      if (f.path !== 'haproxy-pair') {
        f.vsHaproxyPair = ratio(f.value, haproxy?.value)
        f.p99VsHaproxyPair = ratio(f.p99Ms, haproxy?.p99Ms)
        f.cpuVsHaproxyPair = ratio(f.cpuPerUnit, haproxy?.cpuPerUnit)
      }
    }
    summaries.push({ id: scenario.id, title: scenario.title, tool: scenario.tool, unit, cpuUnit: unit === 'req/s' ? 'CPU µs/req' : 'CPU ms/MB', kind: scenario.kind ?? 'closed-loop', paths: figures })
  }
  const memory: PathMemory[] = results.paths.map((p) => ({
    path: p.id,
    title: p.title,
    available: p.available,
    reason: p.reason,
    description: p.description,
    processes: Object.keys(p.idleRssBytes).map((name) => ({
      name,
      idleRssBytes: p.idleRssBytes[name] ?? 0,
      idleFileBytes: p.idleFileBytes[name] ?? 0,
      rssAfterRoundBytes: p.rssAfterRoundBytes[name] ?? [],
      idleHeapUsedBytes: p.idleHeapUsedBytes[name],
      heapUsedAfterRoundBytes: p.heapUsedAfterRoundBytes[name],
    })),
  }))
  return { scenarios: summaries, memory }
}
