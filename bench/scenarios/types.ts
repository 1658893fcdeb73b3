/**
 * A scenario is one load pattern run against any path's entry ports for a fixed time, yielding
 * one figure (requests/s or MB/s) and, for requests, latency percentiles.
 */
import type { BenchCertificates } from '../certs.js'
import type { TrafficPorts } from '../haproxy.js'

export interface ScenarioOptions {
  /** Length of the load phase, seconds. */
  durationSeconds: number
  /** Directory for scratch files (h2load's request log). */
  workDir: string
}

/** What one run of a scenario measured. */
export interface Measurement {
  /** The headline figure, in `unit`. */
  value: number
  unit: 'req/s' | 'MB/s'
  /** Median latency, ms (request scenarios). */
  p50Ms?: number
  /** 99th percentile latency, ms (request scenarios). */
  p99Ms?: number
  /** 90th percentile latency, ms (open-loop scenarios). */
  p90Ms?: number
  /** Highest latency, ms (open-loop scenarios). */
  maxMs?: number
  /** Requests per second offered on a fixed schedule (open-loop scenarios; `value` is the rate answered). */
  offeredRate?: number
  /** Open-loop scenarios: requests that found every connection busy and waited for one (the pair fell behind the rate). */
  queued?: number
  /** Failed requests (request scenarios) or TCP retransmits (bulk). */
  errors: number
  /** Work done: requests completed, or megabytes moved — the denominator of CPU cost. */
  work: number
}

export interface Scenario {
  /** Stable id used in report.json. */
  id: string
  title: string
  /** Load tool and settings, for the report. */
  tool: string
  /**
   * `open-loop`: requests go out at a fixed rate whatever the answers do, latency from the
   * intended send time; the report shows p90, max and CPU per 1,000 req/s. Default: closed loop
   * (a fixed number of connections or streams, each waiting for its answer).
   */
  kind?: 'closed-loop' | 'open-loop'
  run: (entry: TrafficPorts, options: ScenarioOptions) => Promise<Measurement>
}

/**
 * What a comparison of meshgate variants that runs apart from the path matrix takes
 * (scenarios/h3-vs-h2.ts, scenarios/metrics-cost.ts): each variant is a meshgate pair.
 */
export interface VariantComparisonOptions {
  /** Scratch directory for configs and logs (created). */
  workDir: string
  /** Root of the meshgate checkout (where dist/ is). */
  repoDir: string
  certs: BenchCertificates
  /** Load phase per scenario per variant per round, seconds (default 6). */
  durationSeconds?: number
  /** Rounds (default 3). */
  rounds?: number
  /** Unmeasured run of each scenario on each pair first, seconds (default 1; 0 = none). */
  warmupSeconds?: number
  /** Scenario ids to run (default: every scenario of the comparison). */
  scenarios?: string[]
  log?: (line: string) => void
}

/** The timing of a comparison with its defaults filled in. */
export function comparisonTiming (options: VariantComparisonOptions): { durationSeconds: number, rounds: number, warmupSeconds: number } {
  return {
    durationSeconds: options.durationSeconds ?? 6,
    rounds: options.rounds ?? 3,
    warmupSeconds: options.warmupSeconds ?? 1,
  }
}
