/**
 * Issue 15's plugin cost: the pair's small-request scenarios (HTTP/1 and h2c) through two meshgate
 * pairs that differ only in one Proxy-Wasm plugin, `add-header` (dist/plugins/add-header.wasm,
 * built by `npm run build:plugins`), on the outbound side's HTTP listeners. Both variants run at
 * the same time, each with its own load tool, so other load on the shared machine falls on both.
 * Reports req/s, p99 and CPU µs per request (both proxies together) and the plugin's CPU cost per
 * request (with − without), which is what one plugin adds: a VM call per phase in a worker thread.
 *
 *   node dist/bench/scenarios/plugin-cost.js [--duration 6] [--rounds 3] [--warmup 1] [--scenarios http1-small,h2c-small]
 */
import { access } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { meshgatePair } from '../paths/meshgate-pair.js'
import { table } from '../report.js'
import { comparisonCliOptions, comparisonOptionsFromCli, cpuDifference, formatFigure as fmt, formatLoad, measureSideBySide, pairFigures, pickScenarios } from '../side-by-side.js'
import type { SuiteResults } from '../suite.js'
import type { BenchSummary } from '../summary.js'
import { h2cSmall } from './h2c-small.js'
import { http1Small } from './http1-small.js'
import { runStandalone, writeBenchReport } from '../standalone.js'
import { comparisonTiming, type VariantComparisonOptions } from './types.js'

const WITH_PATH = 'meshgate-plugin'
const WITHOUT_PATH = 'meshgate-no-plugin'

export interface PluginCost {
  scenario: string
  withRate?: number
  withoutRate?: number
  withP99Ms?: number
  withoutP99Ms?: number
  /** CPU µs per request, both proxies together (median over rounds). */
  withCpuPerReq?: number
  withoutCpuPerReq?: number
  errors: { with: number, without: number }
}

export interface PluginCostResult {
  date: string
  command: string
  options: { durationSeconds: number, rounds: number, warmupSeconds: number }
  loadAverage: { start: number[], end: number[] }
  costs: PluginCost[]
  summary: BenchSummary
  raw: SuiteResults
  markdown: string
}

export async function runPluginCost (options: VariantComparisonOptions & { command: string }): Promise<PluginCostResult> {
  const o = comparisonTiming(options)
  const wasm = join(options.repoDir, 'dist', 'plugins', 'add-header.wasm')
  await access(wasm).catch(() => { throw new Error(`${wasm} not found (run \`npm run build:plugins\`)`) })
  const scenarios = pickScenarios([http1Small, h2cSmall], options.scenarios)
  const paths = [
    meshgatePair({ id: WITH_PATH, title: 'add-header plugin', dataPlane: 'js', outboundPlugins: [{ name: 'add-header', wasm }] }),
    meshgatePair({ id: WITHOUT_PATH, title: 'no plugin', dataPlane: 'js' }),
  ]
  const { raw, summary } = await measureSideBySide(options, o, paths, scenarios, { alternateOrder: true, simultaneous: true })
  const costs: PluginCost[] = pairFigures(summary, WITH_PATH, WITHOUT_PATH).map(({ scenario, a: withPlugin, b: without }) => {
    return {
      scenario,
      withRate: withPlugin?.value,
      withoutRate: without?.value,
      withP99Ms: withPlugin?.p99Ms,
      withoutP99Ms: without?.p99Ms,
      withCpuPerReq: withPlugin?.cpuPerUnit,
      withoutCpuPerReq: without?.cpuPerUnit,
      errors: { with: withPlugin?.errors ?? 0, without: without?.errors ?? 0 },
    }
  })
  const result = { date: new Date().toISOString(), command: options.command, options: o, loadAverage: raw.loadAverage, costs, summary, raw }
  return { ...result, markdown: render(result) }
}

function render (result: Omit<PluginCostResult, 'markdown'>): string {
  const { options, costs, loadAverage } = result
  return [
    '## Cost of one Proxy-Wasm plugin per request (issue 15)',
    '',
    `- Date: ${result.date}; command: \`${result.command}\``,
    `- Load average ${formatLoad(loadAverage.start)} at start, ${formatLoad(loadAverage.end)} at end (shared machine: compare the variants, not absolute figures)`,
    '',
    `${options.rounds} rounds × ${costs.length} scenarios × 2 variants, ${options.durationSeconds} s each, run at the same time (medians over rounds); ` +
      'the same two-process pair (js data path), the variant with `add-header` on the outbound http1 and h2c listeners. ' +
      'CPU µs/req is both proxies together, including the plugin\'s worker thread (it is a thread of the outbound process).',
    '',
    table(['scenario', 'req/s with', 'req/s without', 'p99 ms with / without', 'CPU µs/req with', 'CPU µs/req without', 'plugin CPU µs/req', 'ratio', 'errors with / without'],
      costs.map((c) => {
        const { extra, ratio } = cpuDifference(c.withCpuPerReq, c.withoutCpuPerReq)
        return [c.scenario, fmt(c.withRate, 0), fmt(c.withoutRate, 0), `${fmt(c.withP99Ms, 2)} / ${fmt(c.withoutP99Ms, 2)}`,
          fmt(c.withCpuPerReq), fmt(c.withoutCpuPerReq), fmt(extra), ratio === undefined ? '–' : `${ratio.toFixed(2)}×`, `${c.errors.with} / ${c.errors.without}`]
      })),
    '',
  ].join('\n')
}

runStandalone('plugin-cost', import.meta.url, comparisonCliOptions('3'), async (values, ctx) => {
  ctx.log(`load average at start ${formatLoad(loadavg())}`)
  const result = await runPluginCost({
    ...comparisonOptionsFromCli(values, ctx),
    command: ['node dist/bench/scenarios/plugin-cost.js', ...process.argv.slice(2)].join(' '),
  })
  await writeBenchReport(ctx.outDir, 'plugin-cost', result.markdown, result)
  return result.markdown
})
