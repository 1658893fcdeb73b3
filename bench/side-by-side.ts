/**
 * Measuring meshgate variants side by side: what the comparisons under bench/scenarios/ that run
 * apart from the path matrix (route-cost, plugin-cost, h3-vs-h2, gateway-hop, metrics-cost) share.
 * Picks the scenarios asked for, starts the upstreams, runs the suite over the variants and
 * summarises it; pairs two variants' figures per scenario; and turns the common command-line
 * options (--duration, --rounds, --warmup, --scenarios) into comparison options.
 */
import type { PathDefinition } from './paths/types.js'
import type { StandaloneContext } from './standalone.js'
import { runSuite, type SuiteOptions, type SuiteResults } from './suite.js'
import { summarise, type BenchSummary, type PathFigures } from './summary.js'
import { startUpstreams } from './upstreams.js'
import type { Scenario, VariantComparisonOptions } from './scenarios/types.js'

/** The scenarios of `all` whose ids are in `ids` (all of them when `ids` is undefined), in `all`'s order. */
export function pickScenarios (all: readonly Scenario[], ids: readonly string[] | undefined): Scenario[] {
  return all.filter((s) => ids === undefined || ids.includes(s.id))
}

export interface SideBySideRun {
  raw: SuiteResults
  summary: BenchSummary
}

/**
 * Starts the upstreams, runs every scenario on every variant (`timing` rounds, 1 s settle) with
 * the given ordering, stops the upstreams whatever happens, and summarises the results.
 */
export async function measureSideBySide (
  options: VariantComparisonOptions,
  timing: { durationSeconds: number, rounds: number, warmupSeconds: number },
  paths: readonly PathDefinition[],
  scenarios: readonly Scenario[],
  order: Pick<SuiteOptions, 'alternateOrder' | 'simultaneous'> = {}
): Promise<SideBySideRun> {
  const upstreams = await startUpstreams(options.workDir)
  let raw: SuiteResults
  try {
    raw = await runSuite({ workDir: options.workDir, repoDir: options.repoDir, certs: options.certs, upstream: upstreams.ports }, paths, scenarios, {
      rounds: timing.rounds, durationSeconds: timing.durationSeconds, warmupSeconds: timing.warmupSeconds, settleMs: 1000, ...order, log: options.log ?? (() => {}),
    })
  } finally {
    await upstreams.stop()
  }
  return { raw, summary: summarise(raw, scenarios) }
}

/** Per scenario of `summary`, the figures of variant `a` and of variant `b` (undefined if it did not run). */
export function pairFigures (summary: BenchSummary, a: string, b: string): Array<{ scenario: string, a?: PathFigures, b?: PathFigures }> {
  return summary.scenarios.map((s) => ({
    scenario: s.id,
    a: s.paths.find((p) => p.path === a),
    b: s.paths.find((p) => p.path === b),
  }))
}

/** Variant `a`'s CPU per request minus `b`'s, and `a`'s over `b`'s; undefined where a figure is missing (or `b`'s is 0, for the ratio). */
export function cpuDifference (a: number | undefined, b: number | undefined): { extra?: number, ratio?: number } {
  if (a === undefined || b === undefined) return {}
  return { extra: a - b, ratio: b === 0 ? undefined : a / b }
}

/** A figure with `digits` decimals, or '–' when missing or not finite. */
export function formatFigure (value: number | undefined, digits = 1): string {
  return value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits)
}

/** Load averages as `0.12 0.34 0.56`. */
export function formatLoad (values: readonly number[]): string {
  return values.map((v) => v.toFixed(2)).join(' ')
}

/** The command-line options every side-by-side comparison takes, with its default rounds. */
export function comparisonCliOptions (defaultRounds: string): Record<'duration' | 'rounds' | 'warmup' | 'scenarios', { type: 'string', default?: string }> {
  return {
    duration: { type: 'string', default: '6' },
    rounds: { type: 'string', default: defaultRounds },
    warmup: { type: 'string', default: '1' },
    scenarios: { type: 'string' },
  }
}

/** Comparison options from the values of `comparisonCliOptions` and the standalone context. */
export function comparisonOptionsFromCli (values: Record<string, string | undefined>, ctx: StandaloneContext): VariantComparisonOptions {
  return {
    workDir: ctx.workDir,
    repoDir: ctx.repoDir,
    certs: ctx.certs,
    durationSeconds: Number(values.duration),
    rounds: Number(values.rounds),
    warmupSeconds: Number(values.warmup),
    scenarios: values.scenarios?.split(',').map((id) => id.trim()),
    log: ctx.log,
  }
}
