/**
 * What the open-loop generator (generator.ts) reports on its last stdout line, and the parser the
 * bench reads it with: every answered request's intended send time and latency, every failure
 * with its reason, and how well the generator kept its schedule.
 */
import type { FailedSample, LatencySample } from './stats.js'

export interface OpenLoopResult {
  /** Offered rate, requests per second. */
  rate: number
  durationSeconds: number
  /** Requests sent (all that the schedule held, unless the run was cut short). */
  sent: number
  samples: LatencySample[]
  failures: FailedSample[]
  /** Keep-alive connections the generator opened in all. */
  connectionsOpened: number
  /** Intended send times of the requests that found every pooled connection busy and waited for one (their wait counts in their latency), ms. */
  queuedAtMs: number[]
  /** The latest the generator itself sent a request after its intended time, ms (its own timer lag). */
  maxLateMs: number
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function numberField (record: Record<string, unknown>, name: string): number {
  const value = record[name]
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`open-loop generator output: "${name}" is not a number`)
  return value
}

/** Samples travel as `[atMs, latencyMs]` pairs and failures as `[atMs, reason]`, to keep the line short. */
export function encodeResult (result: OpenLoopResult): string {
  return JSON.stringify({
    ...result,
    samples: result.samples.map((s) => [Number(s.atMs.toFixed(3)), Number(s.latencyMs.toFixed(3))]),
    failures: result.failures.map((f) => [Number(f.atMs.toFixed(3)), f.reason]),
    queuedAtMs: result.queuedAtMs.map((q) => Number(q.toFixed(3))),
  })
}

/** Parses the generator's result line; throws naming the field that is wrong. */
export function parseResult (line: string): OpenLoopResult {
  let json: unknown
  try {
    json = JSON.parse(line)
  } catch {
    throw new Error(`open-loop generator output is not JSON: ${line.slice(0, 200)}`)
  }
  if (!isRecord(json)) throw new Error('open-loop generator output is not an object')
  const samples = json.samples
  const failures = json.failures
  const queuedAtMs = json.queuedAtMs
  if (!Array.isArray(samples) || !Array.isArray(failures) || !Array.isArray(queuedAtMs)) throw new Error('open-loop generator output: "samples", "failures" and "queuedAtMs" must be arrays')
  return {
    rate: numberField(json, 'rate'),
    durationSeconds: numberField(json, 'durationSeconds'),
    sent: numberField(json, 'sent'),
    connectionsOpened: numberField(json, 'connectionsOpened'),
    maxLateMs: numberField(json, 'maxLateMs'),
    queuedAtMs: queuedAtMs.map((q: unknown, i) => {
      if (typeof q !== 'number') throw new Error(`open-loop generator output: queuedAtMs[${i}] is not a number`)
      return q
    }),
    samples: samples.map((s: unknown, i) => {
      if (!Array.isArray(s) || typeof s[0] !== 'number' || typeof s[1] !== 'number') throw new Error(`open-loop generator output: samples[${i}] is not [atMs, latencyMs]`)
      return { atMs: s[0], latencyMs: s[1] }
    }),
    failures: failures.map((f: unknown, i) => {
      if (!Array.isArray(f) || typeof f[0] !== 'number' || typeof f[1] !== 'string') throw new Error(`open-loop generator output: failures[${i}] is not [atMs, reason]`)
      return { atMs: f[0], reason: f[1] }
    }),
  }
}

/** Failures counted by reason, most frequent first, e.g. `ECONNRESET 3, status 503 1`. */
export function failureReasons (failures: readonly FailedSample[]): string {
  const counts = new Map<string, number>()
  for (const f of failures) counts.set(f.reason, (counts.get(f.reason) ?? 0) + 1)
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([reason, n]) => `${reason} ${n}`).join(', ')
}
