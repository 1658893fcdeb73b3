/**
 * A scenario is one load pattern run against any path's entry ports for a fixed time, yielding
 * one figure (requests/s or MB/s) and, for requests, latency percentiles.
 */
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
  run: (entry: TrafficPorts, options: ScenarioOptions) => Promise<Measurement>
}
