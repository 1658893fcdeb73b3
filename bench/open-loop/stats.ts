/**
 * Latency figures of an open-loop run, from its samples (the intended send time of each request
 * and its latency measured from that time): percentiles and the max over the whole run or over a
 * window of send times, as cold start compares its first second with its steady state.
 */
import { percentile } from '../tools.js'

/** One answered request: intended send time, ms after the run's start; latency from it to the end of the answer, ms. */
export interface LatencySample {
  atMs: number
  latencyMs: number
}

/** One failed request: intended send time and why (status, socket error, timeout). */
export interface FailedSample {
  atMs: number
  reason: string
}

export interface LatencySummary {
  /** Answered requests counted. */
  count: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  maxMs: number
}

/** Percentiles (nearest rank) and the max of `latencies`; NaN for each when there is none. */
export function summariseLatencies (latencies: readonly number[]): LatencySummary {
  const sorted = [...latencies].sort((a, b) => a - b)
  return {
    count: sorted.length,
    p50Ms: percentile(sorted, 0.5),
    p90Ms: percentile(sorted, 0.9),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted.length === 0 ? NaN : sorted[sorted.length - 1] ?? NaN,
  }
}

/** The samples whose intended send time is in [fromMs, toMs). */
export function inWindow<T extends { atMs: number }> (samples: readonly T[], fromMs: number, toMs: number): T[] {
  return samples.filter((s) => s.atMs >= fromMs && s.atMs < toMs)
}

/** Latency summary of the requests due in [fromMs, toMs). */
export function windowSummary (samples: readonly LatencySample[], fromMs: number, toMs: number): LatencySummary {
  return summariseLatencies(inWindow(samples, fromMs, toMs).map((s) => s.latencyMs))
}

/**
 * The windows cold start compares, in ms of send time: the first second, and the steady state
 * from 5 s (or half the run, when shorter than 10 s) to the end.
 */
export function coldStartWindows (durationSeconds: number): { first: [number, number], steady: [number, number] } {
  if (!(durationSeconds >= 2)) throw new Error(`cold start needs at least 2 s of load (got ${durationSeconds})`)
  const steadyFrom = Math.min(5, durationSeconds / 2)
  return { first: [0, 1000], steady: [steadyFrom * 1000, durationSeconds * 1000] }
}

/** Cold start's comparison of one run: the first second against the steady state. */
export interface ColdStartFigures {
  first: LatencySummary
  steady: LatencySummary
  /** Failures among the requests due in each window. */
  firstFailures: number
  steadyFailures: number
  /** Requests in each window that found every connection busy: in the steady window, a sign the pair did not keep up. */
  firstQueued: number
  steadyQueued: number
  /** First-second p99 over steady-state p99 (issue 11's target: ≤ 2). */
  p99Ratio: number
}

export function coldStartFigures (samples: readonly LatencySample[], failures: readonly FailedSample[], queuedAtMs: readonly number[], durationSeconds: number): ColdStartFigures {
  const { first, steady } = coldStartWindows(durationSeconds)
  const firstSummary = windowSummary(samples, ...first)
  const steadySummary = windowSummary(samples, ...steady)
  return {
    first: firstSummary,
    steady: steadySummary,
    firstFailures: inWindow(failures, ...first).length,
    steadyFailures: inWindow(failures, ...steady).length,
    firstQueued: queuedAtMs.filter((at) => at >= first[0] && at < first[1]).length,
    steadyQueued: queuedAtMs.filter((at) => at >= steady[0] && at < steady[1]).length,
    p99Ratio: firstSummary.p99Ms / steadySummary.p99Ms,
  }
}
