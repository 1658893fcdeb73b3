/**
 * Issue 12's gateway hop: the pair scenarios (HTTP/1 small requests, h2c small requests, TCP
 * bulk) through the direct meshgate pair (outbound → inbound) and through the multi-cluster path
 * (west outbound → east gateway → east inbound) with the gateway in `e2e` and in `terminate`
 * mode, interleaved in the same run. Reports, against the direct pair measured in the same run,
 * the added latency (p50, p99) and the CPU per unit of work of all proxy processes together, and
 * the gateway process's own CPU.
 *
 * `npm run bench` runs it after the matrix (`--gateway-hop 0` skips it), or alone:
 *
 *   node dist/bench/scenarios/gateway-hop.js [--duration 6] [--rounds 5 (at least)] [--warmup 1] [--out bench/out]
 *                                            [--scenarios http1-small,h2c-small,tcp-bulk]
 */
import { mkdir } from 'node:fs/promises'
import { gatewayHop } from '../paths/gateway-hop.js'
import { meshgatePair } from '../paths/meshgate-pair.js'
import { table } from '../report.js'
import { comparisonCliOptions, comparisonOptionsFromCli, measureSideBySide, pickScenarios } from '../side-by-side.js'
import type { SuiteResults } from '../suite.js'
import type { BenchSummary } from '../summary.js'
import { runStandalone, writeBenchReport } from '../standalone.js'
import { h2cSmall } from './h2c-small.js'
import { http1Small } from './http1-small.js'
import { tcpBulk } from './tcp-bulk.js'
import { comparisonTiming, type VariantComparisonOptions } from './types.js'

export const GATEWAY_HOP_ID = 'gateway-hop'
const PAIR = 'meshgate-direct-pair'
const E2E = 'gateway-e2e'
const TERMINATE = 'gateway-terminate'

export type GatewayHopOptions = VariantComparisonOptions

export interface GatewayHopRow {
  scenario: string
  path: string
  unit: 'req/s' | 'MB/s'
  value?: number
  /** value / the direct pair's value. */
  rateVsPair?: number
  p50Ms?: number
  p99Ms?: number
  /** p50 and p99 minus the direct pair's, ms. */
  addedP50Ms?: number
  addedP99Ms?: number
  /** CPU per unit of work of every proxy process, over the direct pair's. */
  cpuVsPair?: number
  /** CPU seconds of the gateway process alone (median over rounds). */
  gatewayCpuSeconds?: number
  errors: number
}

export interface GatewayHopResult {
  options: { durationSeconds: number, rounds: number, warmupSeconds: number }
  rows: GatewayHopRow[]
  summary: BenchSummary
  raw: SuiteResults
  markdown: string
}

const ratio = (a?: number, b?: number): number | undefined => a === undefined || b === undefined || b === 0 ? undefined : a / b
const diff = (a?: number, b?: number): number | undefined => a === undefined || b === undefined ? undefined : a - b
const fmt = (value: number | undefined, digits = 2, suffix = ''): string => value === undefined || !Number.isFinite(value) ? '–' : `${value.toFixed(digits)}${suffix}`

/**
 * Fewest rounds the hop runs, whatever the suite's --rounds: the added latency is a difference
 * of two medians on a shared machine, and with 3 rounds one loaded round made it negative.
 */
const MIN_ROUNDS = 5

export async function runGatewayHop (options: GatewayHopOptions): Promise<GatewayHopResult> {
  const o = comparisonTiming(options)
  o.rounds = Math.max(o.rounds, MIN_ROUNDS)
  await mkdir(options.workDir, { recursive: true })
  const scenarios = pickScenarios([http1Small, h2cSmall, tcpBulk], options.scenarios)
  const paths = [
    meshgatePair({ id: PAIR, title: 'meshgate pair (no gateway)', transport: 'h2' }),
    gatewayHop({ id: E2E, title: 'through the gateway, e2e', mode: 'e2e' }),
    gatewayHop({ id: TERMINATE, title: 'through the gateway, terminate', mode: 'terminate' }),
  ]
  const { raw, summary } = await measureSideBySide(options, o, paths, scenarios)
  const rows: GatewayHopRow[] = summary.scenarios.flatMap((s) => {
    const pair = s.paths.find((p) => p.path === PAIR)
    return s.paths.map((p) => {
      const gatewayProcess = Object.keys(p.cpuSeconds).find((n) => n.endsWith('-gateway'))
      return {
        scenario: s.id,
        path: p.path,
        unit: s.unit,
        value: p.value,
        rateVsPair: ratio(p.value, pair?.value),
        p50Ms: p.p50Ms,
        p99Ms: p.p99Ms,
        addedP50Ms: p.path === PAIR ? undefined : diff(p.p50Ms, pair?.p50Ms),
        addedP99Ms: p.path === PAIR ? undefined : diff(p.p99Ms, pair?.p99Ms),
        cpuVsPair: ratio(p.cpuPerUnit, pair?.cpuPerUnit),
        gatewayCpuSeconds: gatewayProcess === undefined ? undefined : p.cpuSeconds[gatewayProcess],
        errors: p.errors,
      }
    })
  })
  const result = { options: o, rows, summary, raw }
  return { ...result, markdown: render(result) }
}

function render (result: Omit<GatewayHopResult, 'markdown'>): string {
  const { options, rows } = result
  return [
    '## The multi-cluster gateway hop (issue 12)',
    '',
    `${options.rounds} rounds × 3 paths, ${options.durationSeconds} s each (medians over rounds), ${options.warmupSeconds} s unmeasured warm-up. ` +
      'Baseline: the direct meshgate pair (outbound → inbound, h2) measured in the same run; the gateway paths are west outbound → ' +
      'east gateway → east inbound, all h2. e2e: an inner mTLS h2 session (node:tls + node:http2 in the outbound) runs inside a CONNECT ' +
      'tunnel that the gateway relays unread; terminate: the gateway reads and re-originates each stream. CPU per unit counts every proxy process.',
    '',
    table(['scenario', 'path', 'rate', 'rate vs pair', 'p50 ms', 'p99 ms', 'added p50 ms', 'added p99 ms', 'CPU per unit vs pair', 'gateway CPU s', 'errors'],
      rows.map((r) => [
        r.scenario,
        r.path,
        `${fmt(r.value, r.unit === 'req/s' ? 0 : 1)} ${r.unit}`,
        fmt(r.rateVsPair, 2, '×'),
        fmt(r.p50Ms),
        fmt(r.p99Ms),
        fmt(r.addedP50Ms),
        fmt(r.addedP99Ms),
        fmt(r.cpuVsPair, 2, '×'),
        fmt(r.gatewayCpuSeconds),
        String(r.errors),
      ])),
  ].join('\n') + '\n'
}

/** Runs the comparison and writes `<out>/gateway-hop.md` and `.json`; returns the markdown. */
export async function runAndWriteGatewayHop (outDir: string, options: GatewayHopOptions): Promise<string> {
  const result = await runGatewayHop(options)
  await writeBenchReport(outDir, GATEWAY_HOP_ID, result.markdown, { date: new Date().toISOString(), ...result })
  return result.markdown
}

runStandalone(GATEWAY_HOP_ID, import.meta.url, comparisonCliOptions('5'), async (values, ctx) =>
  await runAndWriteGatewayHop(ctx.outDir, comparisonOptionsFromCli(values, ctx)))
