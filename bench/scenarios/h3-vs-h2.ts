/**
 * Issue 5's transport comparison: the pair scenarios (HTTP/1 small requests, h2c small requests,
 * TCP bulk) through two meshgate pairs that differ only in the transport between them (`h2`, and
 * `h3` over QUIC), interleaved in the same run. Reports h3/h2 ratios of request throughput, p99
 * latency and TCP bulk throughput, and each proxy's CPU and peak RSS.
 *
 * It compares two transports rather than a proxy against references, so it runs apart from the
 * path matrix: `npm run bench` runs it after the matrix (`--h3-vs-h2 0` skips it), or alone:
 *
 *   node dist/bench/scenarios/h3-vs-h2.js [--duration 6] [--rounds 3] [--warmup 1] [--out bench/out]
 *                                         [--scenarios http1-small,h2c-small,tcp-bulk]
 */
import { mkdir } from 'node:fs/promises'
import { meshgatePair } from '../paths/meshgate-pair.js'
import { table } from '../report.js'
import { comparisonCliOptions, comparisonOptionsFromCli, measureSideBySide, pickScenarios } from '../side-by-side.js'
import type { SuiteResults } from '../suite.js'
import type { BenchSummary, PathFigures } from '../summary.js'
import { h2cSmall } from './h2c-small.js'
import { http1Small } from './http1-small.js'
import { tcpBulk } from './tcp-bulk.js'
import { runStandalone, writeBenchReport } from '../standalone.js'
import { comparisonTiming, type VariantComparisonOptions } from './types.js'

export const H3_VS_H2_ID = 'h3-vs-h2'
const H2_PATH = 'meshgate-h2-pair'
const H3_PATH = 'meshgate-h3-pair'

/** Targets of issue 5: h3 throughput ≥ 0.8× h2, p99 ≤ 1.2× h2. */
export const H3_TARGETS = { minThroughputRatio: 0.8, maxP99Ratio: 1.2 } as const

/** The comparison's options (scenarios: all three, http1-small, h2c-small and tcp-bulk, by default). */
export type H3VsH2Options = VariantComparisonOptions

/** One scenario's h3/h2 ratios. */
export interface TransportRatio {
  scenario: string
  unit: 'req/s' | 'MB/s'
  h2?: number
  h3?: number
  /** h3 / h2 of the headline figure (req/s or MB/s). */
  throughput?: number
  h2P99Ms?: number
  h3P99Ms?: number
  /** h3 / h2 of p99 latency (request scenarios). */
  p99?: number
  /** h3 / h2 of CPU per unit of work, both proxies together. */
  cpuPerUnit?: number
  errors: { h2: number, h3: number }
}

export interface H3VsH2Result {
  options: { durationSeconds: number, rounds: number, warmupSeconds: number }
  ratios: TransportRatio[]
  summary: BenchSummary
  raw: SuiteResults
  markdown: string
}

function ratio (a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b
}

function fmt (value: number | undefined, digits = 2, suffix = ''): string {
  return value === undefined || !Number.isFinite(value) ? '–' : `${value.toFixed(digits)}${suffix}`
}

function mb (bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1)
}

/** Starts the upstreams and both pairs, runs the interleaved rounds, stops everything. */
export async function runH3VsH2 (options: H3VsH2Options): Promise<H3VsH2Result> {
  const o = comparisonTiming(options)
  await mkdir(options.workDir, { recursive: true })
  const scenarios = pickScenarios([http1Small, h2cSmall, tcpBulk], options.scenarios)
  const paths = [
    meshgatePair({ id: H2_PATH, title: 'meshgate pair over h2', transport: 'h2' }),
    meshgatePair({ id: H3_PATH, title: 'meshgate pair over h3', transport: 'h3' }),
  ]
  const { raw, summary } = await measureSideBySide(options, o, paths, scenarios)
  const ratios: TransportRatio[] = summary.scenarios.map((s) => {
    const h2 = s.paths.find((p) => p.path === H2_PATH)
    const h3 = s.paths.find((p) => p.path === H3_PATH)
    return {
      scenario: s.id,
      unit: s.unit,
      h2: h2?.value,
      h3: h3?.value,
      throughput: ratio(h3?.value, h2?.value),
      h2P99Ms: h2?.p99Ms,
      h3P99Ms: h3?.p99Ms,
      p99: ratio(h3?.p99Ms, h2?.p99Ms),
      cpuPerUnit: ratio(h3?.cpuPerUnit, h2?.cpuPerUnit),
      errors: { h2: h2?.errors ?? 0, h3: h3?.errors ?? 0 },
    }
  })
  const result = { options: o, ratios, summary, raw }
  return { ...result, markdown: render(result) }
}

function render (result: Omit<H3VsH2Result, 'markdown'>): string {
  const { options, ratios, summary } = result
  const lines: string[] = [
    '## h3 vs h2 between the meshgate pair (issue 5)',
    '',
    `${options.rounds} rounds × ${ratios.length} scenarios × 2 transports, ${options.durationSeconds} s each (medians over rounds), ` +
      `${options.warmupSeconds} s unmeasured warm-up; the same two-process pair (outbound-only, inbound-only) with only ` +
      '`transport:` changed. Targets: throughput h3/h2 ≥ 0.8, p99 h3/h2 ≤ 1.2.',
    '',
    table(['scenario', 'h2', 'h3', 'h3/h2 rate', 'p99 h2 ms', 'p99 h3 ms', 'h3/h2 p99', 'h3/h2 CPU per unit', 'errors h2 / h3', 'targets'],
      ratios.map((r) => {
        const rateOk = r.throughput !== undefined && r.throughput >= H3_TARGETS.minThroughputRatio
        const p99Ok = r.p99 === undefined || r.p99 <= H3_TARGETS.maxP99Ratio
        return [
          r.scenario,
          `${fmt(r.h2, r.unit === 'req/s' ? 0 : 1)} ${r.unit}`,
          `${fmt(r.h3, r.unit === 'req/s' ? 0 : 1)} ${r.unit}`,
          fmt(r.throughput, 2, '×'),
          fmt(r.h2P99Ms),
          fmt(r.h3P99Ms),
          fmt(r.p99, 2, '×'),
          fmt(r.cpuPerUnit, 2, '×'),
          `${r.errors.h2} / ${r.errors.h3}`,
          r.throughput === undefined ? 'not measured' : `${rateOk ? 'rate ok' : 'rate MISSED'}${r.p99 === undefined ? '' : p99Ok ? ', p99 ok' : ', p99 MISSED'}`,
        ]
      })),
    '',
    'CPU seconds and peak RSS per proxy process (median CPU over rounds, highest RSS in any round):',
    '',
    table(['scenario', 'transport', 'CPU s (client / server)', 'peak RSS MB (client / server)', 'each round'],
      summary.scenarios.flatMap((s) => s.paths.map((p: PathFigures) => {
        const names = Object.keys(p.cpuSeconds).sort()
        const client = names.find((n) => n.endsWith('outbound')) ?? ''
        const server = names.find((n) => n.endsWith('inbound')) ?? ''
        return [
          s.id,
          p.path === H3_PATH ? 'h3' : 'h2',
          `${fmt(p.cpuSeconds[client])} / ${fmt(p.cpuSeconds[server])}`,
          `${mb(p.peakRssBytes[client] ?? 0)} / ${mb(p.peakRssBytes[server] ?? 0)}`,
          p.values.map((v) => v.toFixed(s.unit === 'req/s' ? 0 : 1)).join(' / ') + (p.error === undefined ? '' : ` (error: ${p.error})`),
        ]
      }))),
    '',
    'RSS after start and after each round, MB:',
    '',
    table(['process', 'idle', 'after each round'], summary.memory.flatMap((m) => m.processes.map((p) => [
      p.name, mb(p.idleRssBytes), p.rssAfterRoundBytes.map(mb).join(' / '),
    ]))),
  ]
  const missing = summary.memory.filter((m) => !m.available)
  if (missing.length > 0) lines.push('', ...missing.map((m) => `- ${m.title} not available: ${m.reason ?? 'unknown'}`))
  return lines.join('\n') + '\n'
}

/** Runs the comparison and writes `<out>/h3-vs-h2.md` and `.json`; returns the markdown. */
export async function runAndWriteH3VsH2 (outDir: string, options: H3VsH2Options): Promise<string> {
  const result = await runH3VsH2(options)
  await writeBenchReport(outDir, 'h3-vs-h2', result.markdown, { date: new Date().toISOString(), ...result })
  return result.markdown
}

runStandalone('h3-vs-h2', import.meta.url, comparisonCliOptions('3'), async (values, ctx) =>
  await runAndWriteH3VsH2(ctx.outDir, comparisonOptionsFromCli(values, ctx)))
