/**
 * Issue 4's metrics cost: the pair's small-request scenarios (HTTP/1 and h2c) through two meshgate
 * pairs that differ only in the config switch `metrics: { enabled: false }` (no `meshgate_`
 * families, no runtime metrics, no-op telemetry hooks; the tap and the access log still run),
 * interleaved in the same run. Reports each variant's req/s, p99 and CPU µs per request (both
 * proxies together), the off/on ratios and the cost of metrics in % against the 5 % target.
 * CPU per request is the headline: on a shared machine it moves far less than req/s.
 *
 * It compares two configs of one proxy, so it runs apart from the path matrix: `npm run bench`
 * runs it after the matrix (`--metrics-cost 0` skips it), or alone:
 *
 *   node dist/bench/scenarios/metrics-cost.js [--duration 6] [--rounds 3] [--warmup 1] [--out bench/out]
 *                                             [--scenarios http1-small,h2c-small] [--order simultaneous|sequential] [--control on]
 *
 * Both variants run at the same time, each with its own load tool (`--order sequential`: one after
 * the other, alternating which goes first); `--control on` adds a second identical "on" pair whose cost
 * against the first shows the method's own error.
 */
import { loadavg } from 'node:os'
import { mkdir } from 'node:fs/promises'
import { meshgatePair } from '../paths/meshgate-pair.js'
import { table } from '../report.js'
import { comparisonCliOptions, comparisonOptionsFromCli, formatLoad, measureSideBySide, pickScenarios } from '../side-by-side.js'
import type { SuiteResults } from '../suite.js'
import { median, type BenchSummary } from '../summary.js'
import { h2cSmall } from './h2c-small.js'
import { http1Small } from './http1-small.js'
import { runStandalone, writeBenchReport } from '../standalone.js'
import { comparisonTiming, type VariantComparisonOptions } from './types.js'

export const METRICS_COST_ID = 'metrics-cost'
const ON_PATH = 'meshgate-metrics-on'
const OFF_PATH = 'meshgate-metrics-off'
const CONTROL_PATH = 'meshgate-metrics-on-2'

/** Target of issue 4: metrics cost ≤ 5 % on the hot path. */
export const METRICS_TARGET = { maxCost: 0.05 } as const

/** The comparison's options (scenarios: both, http1-small and h2c-small, by default). */
export interface MetricsCostOptions extends VariantComparisonOptions {
  /**
   * Both variants under load at the same time, each with its own load tool (default true), so
   * that other load on the machine falls on both in the same seconds; false runs them one after
   * the other, alternating which goes first.
   */
  simultaneous?: boolean
  /**
   * Adds a second, identical "metrics on" pair (default false): its cost against the first one
   * shows how far apart two identical variants measure, the method's own error.
   */
  control?: boolean
  /** The command line, for the report. */
  command?: string
}

/** One scenario's figures for both variants and the cost of metrics. */
export interface MetricsCost {
  scenario: string
  onRate?: number
  offRate?: number
  onP99Ms?: number
  offP99Ms?: number
  /** CPU µs per request, both proxies together (median over rounds). */
  onCpuPerReq?: number
  offCpuPerReq?: number
  /** off / on of req/s. */
  rateOffOverOn?: number
  /** on CPU/req ÷ off CPU/req − 1. */
  cpuCost?: number
  /** 1 − on req/s ÷ off req/s. */
  throughputDrop?: number
  /** Per round: on CPU/req ÷ off CPU/req − 1 of that round's pair of runs. */
  cpuCostPerRound: Array<number | undefined>
  /** Per round: 1 − on req/s ÷ off req/s. */
  throughputDropPerRound: Array<number | undefined>
  /** With `control`: the second "on" pair's CPU/req ÷ the first's − 1 (median over rounds), and per round. */
  controlCost?: number
  controlCostPerRound?: Array<number | undefined>
  errors: { on: number, off: number }
}

export interface MetricsCostResult {
  date: string
  command?: string
  options: { durationSeconds: number, rounds: number, warmupSeconds: number, simultaneous: boolean, control: boolean }
  loadAverage: { start: number[], end: number[] }
  costs: MetricsCost[]
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

function pct (value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '–' : `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)} %`
}

/** Per round, CPU µs per request (all proxies of the path) and req/s of one scenario on one path. */
function perRound (raw: SuiteResults, scenario: string, path: string, round: number): { cpuPerReq?: number, rate?: number } {
  const run = raw.runs.find((r) => r.scenario === scenario && r.path === path && r.round === round)
  if (run?.measurement === undefined || run.measurement.work === 0) return {}
  const cpu = Object.values(run.usage).reduce((sum, u) => sum + u.cpuSeconds, 0)
  return { cpuPerReq: cpu * 1e6 / run.measurement.work, rate: run.measurement.value }
}

/** Starts the upstreams and both pairs, runs the interleaved rounds, stops everything. */
export async function runMetricsCost (options: MetricsCostOptions): Promise<MetricsCostResult> {
  const o = {
    ...comparisonTiming(options),
    simultaneous: options.simultaneous ?? true,
    control: options.control ?? false,
  }
  const date = new Date().toISOString()
  await mkdir(options.workDir, { recursive: true })
  const scenarios = pickScenarios([http1Small, h2cSmall], options.scenarios)
  const paths = [
    meshgatePair({ id: ON_PATH, title: 'metrics on', extraConfig: { metrics: { enabled: true } } }),
    meshgatePair({ id: OFF_PATH, title: 'metrics off', extraConfig: { metrics: { enabled: false } } }),
    ...(o.control ? [meshgatePair({ id: CONTROL_PATH, title: 'metrics on (2)', extraConfig: { metrics: { enabled: true } } })] : []),
  ]
  const { raw, summary } = await measureSideBySide(options, o, paths, scenarios, { alternateOrder: true, simultaneous: o.simultaneous })
  const rounds = Array.from({ length: o.rounds }, (_, i) => i + 1)
  const costs: MetricsCost[] = summary.scenarios.map((s) => {
    const on = s.paths.find((p) => p.path === ON_PATH)
    const off = s.paths.find((p) => p.path === OFF_PATH)
    const pairs = rounds.map((round) => ({ on: perRound(raw, s.id, ON_PATH, round), off: perRound(raw, s.id, OFF_PATH, round) }))
    const control = s.paths.find((p) => p.path === CONTROL_PATH)
    const controlPerRound = o.control
      ? rounds.map((round) => { const r = ratio(perRound(raw, s.id, CONTROL_PATH, round).cpuPerReq, perRound(raw, s.id, ON_PATH, round).cpuPerReq); return r === undefined ? undefined : r - 1 })
      : undefined
    const controlRatio = ratio(control?.cpuPerUnit, on?.cpuPerUnit)
    const rate = ratio(on?.value, off?.value)
    const cpu = ratio(on?.cpuPerUnit, off?.cpuPerUnit)
    return {
      scenario: s.id,
      onRate: on?.value,
      offRate: off?.value,
      onP99Ms: on?.p99Ms,
      offP99Ms: off?.p99Ms,
      onCpuPerReq: on?.cpuPerUnit,
      offCpuPerReq: off?.cpuPerUnit,
      rateOffOverOn: ratio(off?.value, on?.value),
      cpuCost: cpu === undefined ? undefined : cpu - 1,
      throughputDrop: rate === undefined ? undefined : 1 - rate,
      cpuCostPerRound: pairs.map((p) => { const r = ratio(p.on.cpuPerReq, p.off.cpuPerReq); return r === undefined ? undefined : r - 1 }),
      throughputDropPerRound: pairs.map((p) => { const r = ratio(p.on.rate, p.off.rate); return r === undefined ? undefined : 1 - r }),
      errors: { on: on?.errors ?? 0, off: off?.errors ?? 0 },
      controlCost: controlRatio === undefined ? undefined : controlRatio - 1,
      controlCostPerRound: controlPerRound,
    }
  })
  const result = { date, command: options.command, options: o, loadAverage: raw.loadAverage, costs, summary, raw }
  return { ...result, markdown: render(result) }
}

function verdict (cost: number | undefined): string {
  if (cost === undefined || !Number.isFinite(cost)) return 'not measured'
  return cost <= METRICS_TARGET.maxCost ? 'PASS' : 'FAIL'
}

function render (result: Omit<MetricsCostResult, 'markdown'>): string {
  const { options, costs, summary, loadAverage } = result
  const load = (values: number[]): string => values.map((v) => v.toFixed(2)).join(' ')
  const defined = (values: Array<number | undefined>): number[] => values.filter((v): v is number => v !== undefined && Number.isFinite(v))
  const lines: string[] = [
    '## Metrics cost on the hot path (issue 4)',
    '',
    `- Date: ${result.date}${result.command === undefined ? '' : `; command: \`${result.command}\``}`,
    `- Load average ${load(loadAverage.start)} at start, ${load(loadAverage.end)} at end (shared machine: compare the variants, not absolute figures)`,
    '',
    `${options.rounds} rounds × ${costs.length} scenarios × 2 variants, ${options.durationSeconds} s each (medians over rounds), ` +
      `${options.warmupSeconds} s unmeasured warm-up; the same two-process pair (outbound-only, inbound-only, h2 + mTLS) with only ` +
      '`metrics: { enabled: … }` changed in both configs; ' +
      (options.simultaneous
        ? 'both variants run at the same time, each with its own load tool, so that other load on the machine falls on both in the same seconds (they share the CPUs, so absolute figures are lower than in the path matrix). '
        : 'within each scenario "on" runs first in odd rounds and "off" first in even ones, so that load drifting over the run falls on both alike. ') +
      'CPU µs/req is both proxies together. Cost = on CPU/req ÷ off CPU/req − 1 (the verdict; req/s swings with other load on ' +
      'the machine) and throughput drop = 1 − on req/s ÷ off req/s. Target: cost ≤ 5 %.',
    '',
    table(['scenario', 'req/s on', 'req/s off', 'off/on rate', 'p99 ms on / off', 'CPU µs/req on', 'CPU µs/req off', 'CPU cost', 'throughput drop', 'errors on / off', 'target ≤ 5 % (CPU)'],
      costs.map((c) => [
        c.scenario,
        fmt(c.onRate, 0),
        fmt(c.offRate, 0),
        fmt(c.rateOffOverOn, 3, '×'),
        `${fmt(c.onP99Ms)} / ${fmt(c.offP99Ms)}`,
        fmt(c.onCpuPerReq, 1),
        fmt(c.offCpuPerReq, 1),
        pct(c.cpuCost),
        pct(c.throughputDrop),
        `${c.errors.on} / ${c.errors.off}`,
        verdict(c.cpuCost),
      ])),
    '',
    `Each round on its own (on vs off ${options.simultaneous ? 'at the same time' : 'run back to back'}), CPU cost / throughput drop:`,
    '',
    ...costs.map((c) => `- ${c.scenario}: ${c.cpuCostPerRound.map((v, i) => `${pct(v)} / ${pct(c.throughputDropPerRound[i])}`).join('; ')}` +
      ` (median of rounds: CPU ${pct(median(defined(c.cpuCostPerRound)))}, rate ${pct(median(defined(c.throughputDropPerRound)))})`),
    ...(options.control
      ? ['', 'Control: a second, identical "metrics on" pair against the first (the method\'s own error; ideally 0):', '',
          ...costs.map((c) => `- ${c.scenario}: ${pct(c.controlCost)} (medians over rounds); per round ${(c.controlCostPerRound ?? []).map(pct).join('; ')}`)]
      : []),
    '',
    'Per variant: req/s of each round, and CPU s per proxy (median over rounds):',
    '',
    table(['scenario', 'variant', 'req/s each round', 'CPU s (outbound / inbound)'],
      summary.scenarios.flatMap((s) => s.paths.map((p) => {
        const names = Object.keys(p.cpuSeconds)
        const client = names.find((n) => n.endsWith('outbound')) ?? ''
        const server = names.find((n) => n.endsWith('inbound')) ?? ''
        return [
          s.id,
          p.title,
          p.values.map((v) => v.toFixed(0)).join(' / ') + (p.error === undefined ? '' : ` (error: ${p.error})`),
          `${fmt(p.cpuSeconds[client])} / ${fmt(p.cpuSeconds[server])}`,
        ]
      }))),
  ]
  const missing = summary.memory.filter((m) => !m.available)
  if (missing.length > 0) lines.push('', ...missing.map((m) => `- ${m.title} not available: ${m.reason ?? 'unknown'}`))
  return lines.join('\n') + '\n'
}

/** Runs the comparison and writes `<out>/metrics-cost.md` and `.json`; returns the markdown. */
export async function runAndWriteMetricsCost (outDir: string, options: MetricsCostOptions): Promise<string> {
  const result = await runMetricsCost(options)
  await writeBenchReport(outDir, 'metrics-cost', result.markdown, result)
  return result.markdown
}

runStandalone('metrics-cost', import.meta.url, {
  ...comparisonCliOptions('3'),
  order: { type: 'string', default: 'simultaneous' },
  control: { type: 'string', default: 'off' },
}, async (values, ctx) => {
  ctx.log(`load average at start ${formatLoad(loadavg())}`)
  return await runAndWriteMetricsCost(ctx.outDir, {
    ...comparisonOptionsFromCli(values, ctx),
    simultaneous: values.order !== 'sequential',
    control: values.control === 'on',
    command: ['node dist/bench/scenarios/metrics-cost.js', ...process.argv.slice(2)].join(' '),
  })
})
