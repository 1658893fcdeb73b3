/**
 * The targets issue 2 sets for the meshgate pair, checked against a bench summary: TCP bulk
 * ≥ 0.6× and HTTP/1 small-request throughput ≥ 0.5× the HAProxy pair, idle RSS ≤ 60 MB per
 * proxy, and no memory growth across three back-to-back runs.
 */
import type { BenchSummary } from './summary.js'

export type Verdict = 'pass' | 'fail' | 'n/a'

export interface TargetResult {
  target: string
  measured: string
  verdict: Verdict
}

/** 60 MB, in bytes (MB = 10^6 bytes throughout the report). */
export const IDLE_RSS_LIMIT_BYTES = 60e6
/** RSS may move this much between the first and last round before it counts as growth: 8 MB… */
export const GROWTH_ALLOWANCE_BYTES = 8e6
/** …or 10 % of the first round's RSS, whichever is larger (GC timing moves RSS by a few MB). */
export const GROWTH_ALLOWANCE_SHARE = 0.1

const PAIR = 'meshgate-pair'

function mb (bytes: number): string {
  return (bytes / 1e6).toFixed(1)
}

function ratioTarget (summary: BenchSummary, scenarioId: string, label: string, minimum: number): TargetResult {
  const row = summary.scenarios.find((s) => s.id === scenarioId)?.paths.find((p) => p.path === PAIR)
  const ratio = row?.vsHaproxyPair
  const target = `${label} ≥ ${minimum}× HAProxy pair`
  if (ratio === undefined) return { target, measured: 'not available', verdict: 'n/a' }
  return { target, measured: `${ratio.toFixed(2)}×`, verdict: ratio >= minimum ? 'pass' : 'fail' }
}

export function checkTargets (summary: BenchSummary): TargetResult[] {
  const results = [
    ratioTarget(summary, 'tcp-bulk', 'TCP bulk', 0.6),
    ratioTarget(summary, 'http1-small', 'HTTP/1 small-request throughput', 0.5),
  ]
  const pair = summary.memory.find((m) => m.path === PAIR)
  const processes = pair?.processes ?? []
  if (processes.length === 0) {
    results.push({ target: 'idle RSS ≤ 60 MB per proxy', measured: 'not available', verdict: 'n/a' })
    results.push({ target: 'no RSS growth across three runs', measured: 'not available', verdict: 'n/a' })
    return results
  }
  const idle = processes.map((p) => `${p.name} ${mb(p.idleRssBytes)} MB`).join(', ')
  results.push({
    target: 'idle RSS ≤ 60 MB per proxy',
    measured: idle,
    verdict: processes.every((p) => p.idleRssBytes <= IDLE_RSS_LIMIT_BYTES) ? 'pass' : 'fail',
  })
  const growth = processes.map((p) => {
    const first = p.rssAfterRoundBytes[0]
    const last = p.rssAfterRoundBytes[p.rssAfterRoundBytes.length - 1]
    if (first === undefined || last === undefined || p.rssAfterRoundBytes.length < 2) return { text: `${p.name} n/a`, ok: undefined }
    const allowance = Math.max(GROWTH_ALLOWANCE_BYTES, first * GROWTH_ALLOWANCE_SHARE)
    return { text: `${p.name} ${p.rssAfterRoundBytes.map(mb).join(' → ')} MB`, ok: last - first <= allowance }
  })
  results.push({
    target: `no RSS growth across ${processes[0]?.rssAfterRoundBytes.length ?? 0} runs (run 1 → last ≤ max(8 MB, 10 %))`,
    measured: growth.map((g) => g.text).join('; '),
    verdict: growth.some((g) => g.ok === undefined) ? 'n/a' : growth.every((g) => g.ok === true) ? 'pass' : 'fail',
  })
  return results
}
