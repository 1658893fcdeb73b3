/**
 * Issue 13's route-table cost through the pair: the small-request scenarios (HTTP/1 and h2c)
 * through two meshgate pairs that differ only in the outbound side's route table, 50 routes on
 * each HTTP service (the request matches the last, so every one is tried) vs none. Both variants
 * run at the same time, each with its own load tool, so other load on the shared machine falls on
 * both. Reports req/s, p99 and CPU µs per request (both proxies together), the table's CPU per
 * request (50 routes − none) and the ratio. The in-process figure of the matching alone is
 * bench/route-table-cost.ts.
 *
 *   node dist/bench/scenarios/route-cost.js [--duration 6] [--rounds 3] [--warmup 1] [--scenarios http1-small,h2c-small]
 */
import { loadavg } from 'node:os'
import { meshgatePair } from '../paths/meshgate-pair.js'
import { table } from '../report.js'
import { comparisonCliOptions, comparisonOptionsFromCli, cpuDifference, formatFigure as fmt, formatLoad, measureSideBySide, pairFigures, pickScenarios } from '../side-by-side.js'
import type { SuiteResults } from '../suite.js'
import type { BenchSummary } from '../summary.js'
import { h2cSmall } from './h2c-small.js'
import { http1Small } from './http1-small.js'
import { runStandalone, writeBenchReport } from '../standalone.js'
import { comparisonTiming, type VariantComparisonOptions } from './types.js'

const ROUTED_PATH = 'meshgate-50-routes'
const PLAIN_PATH = 'meshgate-no-routes'

/**
 * 50 routes of the usual kinds, as bench/route-table-cost.ts has them: prefixes, exact paths with
 * a method, regexes, header + query matches; none matches `GET /` but the last (prefix `/`). Every
 * route sends to the service itself (weights 9 and 1 over the same backend: the weighted choice runs).
 */
export function fiftyRoutes (service: string): Array<Record<string, unknown>> {
  const routes: Array<Record<string, unknown>> = []
  const backends = [{ service, weight: 9 }, { service, weight: 1 }]
  for (let i = 0; i < 49; i++) {
    const kind = i % 4
    const match = kind === 0
      ? { path: { prefix: `/api/v${i}` } }
      : kind === 1
        ? { path: { exact: `/exact/${i}` }, method: 'POST' }
        : kind === 2
          ? { path: { regex: `^/items/${i}/[0-9]+$` } }
          : { headers: [{ name: 'x-route', exact: String(i) }], query: [{ name: 'q', exact: String(i) }] }
    routes.push({ name: `r${i}`, match: [match], backends })
  }
  routes.push({ name: 'last', match: [{ path: { prefix: '/' } }], backends })
  return routes
}

export interface RouteCost {
  scenario: string
  routedRate?: number
  plainRate?: number
  routedP99Ms?: number
  plainP99Ms?: number
  /** CPU µs per request, both proxies together (median over rounds). */
  routedCpuPerReq?: number
  plainCpuPerReq?: number
  errors: { routed: number, plain: number }
}

export interface RouteCostResult {
  date: string
  command: string
  options: { durationSeconds: number, rounds: number, warmupSeconds: number }
  loadAverage: { start: number[], end: number[] }
  costs: RouteCost[]
  summary: BenchSummary
  raw: SuiteResults
  markdown: string
}

export async function runRouteCost (options: VariantComparisonOptions & { command: string }): Promise<RouteCostResult> {
  const o = comparisonTiming(options)
  const scenarios = pickScenarios([http1Small, h2cSmall], options.scenarios)
  const paths = [
    meshgatePair({ id: ROUTED_PATH, title: '50 routes', dataPlane: 'js', outboundRoutes: fiftyRoutes }),
    meshgatePair({ id: PLAIN_PATH, title: 'no routes', dataPlane: 'js' }),
  ]
  const { raw, summary } = await measureSideBySide(options, o, paths, scenarios, { alternateOrder: true, simultaneous: true })
  const costs: RouteCost[] = pairFigures(summary, ROUTED_PATH, PLAIN_PATH).map(({ scenario, a: routed, b: plain }) => {
    return {
      scenario,
      routedRate: routed?.value,
      plainRate: plain?.value,
      routedP99Ms: routed?.p99Ms,
      plainP99Ms: plain?.p99Ms,
      routedCpuPerReq: routed?.cpuPerUnit,
      plainCpuPerReq: plain?.cpuPerUnit,
      errors: { routed: routed?.errors ?? 0, plain: plain?.errors ?? 0 },
    }
  })
  const result = { date: new Date().toISOString(), command: options.command, options: o, loadAverage: raw.loadAverage, costs, summary, raw }
  return { ...result, markdown: render(result) }
}

function render (result: Omit<RouteCostResult, 'markdown'>): string {
  const { options, costs, loadAverage } = result
  return [
    '## CPU cost per request of a 50-route table through the pair (issue 13)',
    '',
    `- Date: ${result.date}; command: \`${result.command}\``,
    `- Load average ${formatLoad(loadAverage.start)} at start, ${formatLoad(loadAverage.end)} at end (shared machine: compare the variants, not absolute figures)`,
    '',
    `${options.rounds} rounds × ${costs.length} scenarios × 2 variants, ${options.durationSeconds} s each, run at the same time (medians over rounds); ` +
      'the same two-process pair (js data path), the variant with 50 routes on the outbound side\'s HTTP services (the request matches the last). ' +
      'CPU µs/req is both proxies together; the inbound side does the same work in both variants.',
    '',
    table(['scenario', 'req/s 50 routes', 'req/s none', 'p99 ms 50 / none', 'CPU µs/req 50 routes', 'CPU µs/req none', 'table CPU µs/req', 'ratio', 'errors 50 / none'],
      costs.map((c) => {
        const { extra, ratio } = cpuDifference(c.routedCpuPerReq, c.plainCpuPerReq)
        return [c.scenario, fmt(c.routedRate, 0), fmt(c.plainRate, 0), `${fmt(c.routedP99Ms, 2)} / ${fmt(c.plainP99Ms, 2)}`,
          fmt(c.routedCpuPerReq), fmt(c.plainCpuPerReq), fmt(extra), ratio === undefined ? '–' : `${ratio.toFixed(2)}×`, `${c.errors.routed} / ${c.errors.plain}`]
      })),
    '',
  ].join('\n')
}

runStandalone('route-cost', import.meta.url, comparisonCliOptions('3'), async (values, ctx) => {
  ctx.log(`load average at start ${formatLoad(loadavg())}`)
  const result = await runRouteCost({
    ...comparisonOptionsFromCli(values, ctx),
    command: ['node dist/bench/scenarios/route-cost.js', ...process.argv.slice(2)].join(' '),
  })
  await writeBenchReport(ctx.outDir, 'route-cost', result.markdown, result)
  return result.markdown
})
