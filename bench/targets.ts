/**
 * The targets the issues set for the meshgate pair, checked against a bench summary for each
 * meshgate path of the run (`meshgate-native`, `meshgate-js`), always as ratios to the HAProxy
 * pair measured in the same run:
 *
 * - issue 2: TCP bulk ≥ 0.6× and HTTP/1 small-request throughput ≥ 0.5× the HAProxy pair, idle
 *   RSS ≤ 60 MB per proxy, no memory growth across three back-to-back runs;
 * - native data path, part 1: TCP bulk (`-P1` and `-P4`) ≥ 0.9× the HAProxy pair's MB/s at
 *   ≤ 1.2× its CPU ms/MB, idle RSS ≤ 50 MB and RSS after load ≤ 80 MB per proxy, no growth;
 *   over native h3 (`meshgate-native-h3`) TCP bulk ≥ 0.7× the HAProxy pair;
 * - native data path, part 2 (issue 11; not for the h3 path): HTTP/1 closed-loop throughput ≥ 0.8×
 *   at ≤ 1.5× the CPU per request, h2c throughput ≥ 0.8×, and at a fixed 1,000 req/s (open loop)
 *   p99 ≤ 2× the HAProxy pair's with zero failures, idle RSS ≤ 50 MB and RSS under load (the
 *   peak of any scenario) ≤ 80 MB per proxy. Its cold-start target is in cold-start.md.
 */
import type { BenchSummary, PathFigures, PathMemory, ProcessMemory } from './summary.js'

export type Verdict = 'pass' | 'fail' | 'n/a'

export interface TargetResult {
  /** The set of targets this one belongs to (a report section). */
  issue: string
  /** The path checked (its title). */
  path: string
  target: string
  measured: string
  verdict: Verdict
}

/** The meshgate paths the targets are checked for, in report order. */
export const MESHGATE_PATHS: readonly string[] = ['meshgate-native', 'meshgate-native-h3', 'meshgate-js']
/** The path whose TCP bulk target is the h3 one (and no CPU target: the issue sets none for h3). */
export const NATIVE_H3_PATH = 'meshgate-native-h3'

export const ISSUE_2 = 'Issue 2: the meshgate pair against the HAProxy pair'
export const NATIVE_PART_1 = 'Native data path, part 1'
export const NATIVE_PART_2 = 'Native data path, part 2'

/** Issue 2: 60 MB, in bytes (MB = 10^6 bytes throughout the report). */
export const IDLE_RSS_LIMIT_BYTES = 60e6
/** Native data path, part 1: idle RSS per proxy. */
export const NATIVE_IDLE_RSS_LIMIT_BYTES = 50e6
/** Native data path, part 1: RSS per proxy after each round of load (after the settle pause). */
export const NATIVE_LOADED_RSS_LIMIT_BYTES = 80e6
/** Native data path, part 2: RSS per proxy under load (the peak sampled during any scenario). */
export const NATIVE_PEAK_RSS_LIMIT_BYTES = 80e6
/** Native data path, part 1: TCP bulk MB/s over the HAProxy pair's, at least. */
export const NATIVE_BULK_RATE_MIN = 0.9
/** Native data path, part 1: TCP bulk MB/s over native h3, over the HAProxy pair's, at least. */
export const NATIVE_H3_BULK_RATE_MIN = 0.7
/** Native data path, part 1: TCP bulk CPU ms/MB over the HAProxy pair's, at most. */
export const NATIVE_BULK_CPU_MAX = 1.2
/** Native data path, part 2: HTTP/1 and h2c closed-loop req/s over the HAProxy pair's, at least. */
export const NATIVE_HTTP_RATE_MIN = 0.8
/** Native data path, part 2: HTTP/1 closed-loop CPU µs/req over the HAProxy pair's, at most. */
export const NATIVE_HTTP_CPU_MAX = 1.5
/** Native data path, part 2: p99 at a fixed 1,000 req/s over the HAProxy pair's, at most. */
export const NATIVE_OPEN_LOOP_P99_MAX = 2
/** RSS may move this much between the first and last round before it counts as growth: 8 MB… */
export const GROWTH_ALLOWANCE_BYTES = 8e6
/** …or 10 % of the first round's RSS, whichever is larger (GC timing moves RSS by a few MB). */
export const GROWTH_ALLOWANCE_SHARE = 0.1

/** The TCP bulk scenarios the native targets apply to. */
const BULK_SCENARIOS: ReadonlyArray<{ id: string, label: string }> = [
  { id: 'tcp-bulk', label: 'TCP bulk -P1' },
  { id: 'tcp-bulk-p4', label: 'TCP bulk -P4' },
]

type Check = Omit<TargetResult, 'issue' | 'path'>

function mb (bytes: number): string {
  return (bytes / 1e6).toFixed(1)
}

/** A path's figures for a scenario, and the HAProxy pair's from the same run. */
function figures (summary: BenchSummary, scenarioId: string, pathId: string): { path?: PathFigures, haproxy?: PathFigures } {
  const paths = summary.scenarios.find((s) => s.id === scenarioId)?.paths ?? []
  return { path: paths.find((p) => p.path === pathId), haproxy: paths.find((p) => p.path === 'haproxy-pair') }
}

/** Throughput over the HAProxy pair's in the same run, at least `minimum`. */
function rateTarget (summary: BenchSummary, pathId: string, scenarioId: string, label: string, minimum: number): Check | undefined {
  const scenario = summary.scenarios.find((s) => s.id === scenarioId)
  if (scenario === undefined) return undefined
  const { path, haproxy } = figures(summary, scenarioId, pathId)
  const target = `${label} ${scenario.unit} ≥ ${minimum}× HAProxy pair`
  const ratio = path?.vsHaproxyPair
  if (ratio === undefined) return { target, measured: haproxy?.value === undefined ? 'not available (no HAProxy pair figure)' : 'not available', verdict: 'n/a' }
  return {
    target,
    measured: `${ratio.toFixed(2)}× (${(path?.value ?? 0).toFixed(0)} vs ${(haproxy?.value ?? 0).toFixed(0)} ${scenario.unit})`,
    verdict: ratio >= minimum ? 'pass' : 'fail',
  }
}

/** CPU per unit of work over the HAProxy pair's in the same run, at most `maximum`. */
function cpuTarget (summary: BenchSummary, pathId: string, scenarioId: string, label: string, maximum: number): Check | undefined {
  const scenario = summary.scenarios.find((s) => s.id === scenarioId)
  if (scenario === undefined) return undefined
  const { path, haproxy } = figures(summary, scenarioId, pathId)
  const target = `${label} ${scenario.cpuUnit} ≤ ${maximum}× HAProxy pair`
  const ratio = path?.cpuVsHaproxyPair
  if (ratio === undefined) return { target, measured: haproxy?.cpuPerUnit === undefined ? 'not available (no HAProxy pair figure)' : 'not available', verdict: 'n/a' }
  return {
    target,
    measured: `${ratio.toFixed(2)}× (${(path?.cpuPerUnit ?? 0).toFixed(2)} vs ${(haproxy?.cpuPerUnit ?? 0).toFixed(2)})`,
    verdict: ratio <= maximum ? 'pass' : 'fail',
  }
}

/** Open-loop p99 over the HAProxy pair's in the same run at most `maximum`, and no failed request. */
function openLoopTarget (summary: BenchSummary, pathId: string, scenarioId: string, label: string, maximum: number): Check | undefined {
  if (summary.scenarios.find((s) => s.id === scenarioId) === undefined) return undefined
  const { path, haproxy } = figures(summary, scenarioId, pathId)
  const target = `${label}: p99 ≤ ${maximum}× HAProxy pair, zero failures`
  const ratio = path?.p99VsHaproxyPair
  if (ratio === undefined || path === undefined) return { target, measured: haproxy?.p99Ms === undefined ? 'not available (no HAProxy pair figure)' : 'not available', verdict: 'n/a' }
  return {
    target,
    measured: `${ratio.toFixed(2)}× (${(path.p99Ms ?? 0).toFixed(2)} vs ${(haproxy?.p99Ms ?? 0).toFixed(2)} ms), ${path.errors} failed`,
    verdict: ratio <= maximum && path.errors === 0 ? 'pass' : 'fail',
  }
}

/** `meshgate-native-inbound` → `inbound`: the path is in its own column. */
function role (memory: PathMemory, p: ProcessMemory): string {
  return p.name.startsWith(`${memory.path}-`) ? p.name.slice(memory.path.length + 1) : p.name
}

function idleTarget (memory: PathMemory, limit: number): Check {
  const target = `idle RSS ≤ ${mb(limit)} MB per proxy`
  if (memory.processes.length === 0) return { target, measured: 'not available', verdict: 'n/a' }
  return {
    target,
    measured: memory.processes.map((p) => `${role(memory, p)} ${mb(p.idleRssBytes)} MB (${mb(p.idleFileBytes)} file-backed)`).join(', '),
    verdict: memory.processes.every((p) => p.idleRssBytes <= limit) ? 'pass' : 'fail',
  }
}

function loadedTarget (memory: PathMemory, limit: number): Check {
  const target = `RSS after load ≤ ${mb(limit)} MB per proxy (highest after any round)`
  const highest = memory.processes.map((p) => ({ p, max: p.rssAfterRoundBytes.length === 0 ? undefined : Math.max(...p.rssAfterRoundBytes) }))
  if (highest.length === 0 || highest.some((h) => h.max === undefined)) return { target, measured: 'not available', verdict: 'n/a' }
  return {
    target,
    measured: highest.map((h) => `${role(memory, h.p)} ${mb(h.max ?? 0)} MB`).join(', '),
    verdict: highest.every((h) => (h.max ?? Infinity) <= limit) ? 'pass' : 'fail',
  }
}

/** The highest RSS sampled during any scenario of the run, per proxy process of the path. */
function underLoadTarget (summary: BenchSummary, memory: PathMemory, limit: number): Check {
  const target = `RSS under load ≤ ${mb(limit)} MB per proxy (peak during any scenario)`
  const peaks = memory.processes.map((p) => {
    let peak = 0
    let scenario = ''
    for (const s of summary.scenarios) {
      const bytes = s.paths.find((f) => f.path === memory.path)?.peakRssBytes[p.name] ?? 0
      if (bytes > peak) { peak = bytes; scenario = s.id }
    }
    return { p, peak, scenario }
  })
  if (peaks.length === 0 || peaks.some((x) => x.peak === 0)) return { target, measured: 'not available', verdict: 'n/a' }
  return {
    target,
    measured: peaks.map((x) => `${role(memory, x.p)} ${mb(x.peak)} MB (${x.scenario})`).join(', '),
    verdict: peaks.every((x) => x.peak <= limit) ? 'pass' : 'fail',
  }
}

function growthTarget (memory: PathMemory): Check {
  const runs = memory.processes[0]?.rssAfterRoundBytes.length ?? 0
  const target = `no RSS growth across ${runs} runs (run 1 → last ≤ max(8 MB, 10 %))`
  if (memory.processes.length === 0) return { target, measured: 'not available', verdict: 'n/a' }
  const growth = memory.processes.map((p) => {
    const first = p.rssAfterRoundBytes[0]
    const last = p.rssAfterRoundBytes[p.rssAfterRoundBytes.length - 1]
    if (first === undefined || last === undefined || p.rssAfterRoundBytes.length < 2) return { text: `${role(memory, p)} n/a (needs ≥ 2 rounds)`, ok: undefined }
    const allowance = Math.max(GROWTH_ALLOWANCE_BYTES, first * GROWTH_ALLOWANCE_SHARE)
    return { text: `${role(memory, p)} ${p.rssAfterRoundBytes.map(mb).join(' → ')} MB`, ok: last - first <= allowance }
  })
  return {
    target,
    measured: growth.map((g) => g.text).join('; '),
    verdict: growth.some((g) => g.ok === undefined) ? 'n/a' : growth.every((g) => g.ok === true) ? 'pass' : 'fail',
  }
}

export function checkTargets (summary: BenchSummary): TargetResult[] {
  const results: TargetResult[] = []
  const meshgate = MESHGATE_PATHS.flatMap((id) => summary.memory.filter((m) => m.path === id))
  for (const memory of meshgate) {
    const add = (issue: string, checks: ReadonlyArray<Check | undefined>): void => {
      for (const check of checks) if (check !== undefined) results.push({ issue, path: memory.title, ...check })
    }
    if (!memory.available) {
      for (const issue of [NATIVE_PART_1, NATIVE_PART_2, ISSUE_2]) results.push({ issue, path: memory.title, target: 'all', measured: memory.reason === undefined ? 'not available' : 'not available (the reason is above)', verdict: 'n/a' })
      continue
    }
    add(NATIVE_PART_1, [
      ...BULK_SCENARIOS.flatMap((s) => memory.path === NATIVE_H3_PATH
        ? [rateTarget(summary, memory.path, s.id, s.label, NATIVE_H3_BULK_RATE_MIN)]
        : [
            rateTarget(summary, memory.path, s.id, s.label, NATIVE_BULK_RATE_MIN),
            cpuTarget(summary, memory.path, s.id, s.label, NATIVE_BULK_CPU_MAX),
          ]),
      idleTarget(memory, NATIVE_IDLE_RSS_LIMIT_BYTES),
      loadedTarget(memory, NATIVE_LOADED_RSS_LIMIT_BYTES),
      growthTarget(memory),
    ])
    if (memory.path !== NATIVE_H3_PATH) {
      add(NATIVE_PART_2, [
        rateTarget(summary, memory.path, 'http1-small', 'HTTP/1 closed loop', NATIVE_HTTP_RATE_MIN),
        cpuTarget(summary, memory.path, 'http1-small', 'HTTP/1 closed loop', NATIVE_HTTP_CPU_MAX),
        rateTarget(summary, memory.path, 'h2c-small', 'h2c', NATIVE_HTTP_RATE_MIN),
        openLoopTarget(summary, memory.path, 'open-loop-1000', 'Open loop at 1,000 req/s', NATIVE_OPEN_LOOP_P99_MAX),
        idleTarget(memory, NATIVE_IDLE_RSS_LIMIT_BYTES),
        underLoadTarget(summary, memory, NATIVE_PEAK_RSS_LIMIT_BYTES),
      ])
    }
    add(ISSUE_2, [
      rateTarget(summary, memory.path, 'tcp-bulk', 'TCP bulk', 0.6),
      rateTarget(summary, memory.path, 'http1-small', 'HTTP/1 small-request throughput', 0.5),
      idleTarget(memory, IDLE_RSS_LIMIT_BYTES),
      growthTarget(memory),
    ])
  }
  return results
}
