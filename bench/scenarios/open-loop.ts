/**
 * Open-loop HTTP/1.1 at a fixed rate (issue 11): POSTs with a 1 KiB body at 500, 1,000 and 2,000
 * req/s, sent on schedule whether or not earlier ones were answered, by the bench's own generator
 * (open-loop/generator.ts, its own process); latency is measured from each request's intended send
 * time. h2load's `--rps` is not open-loop: it holds a due request back while a connection's
 * stream slots (one per connection for HTTP/1.1) are busy and times it from when it went out.
 */
import { AUTHORITY } from '../names.js'
import { runOpenLoop } from '../open-loop/client.js'
import { summariseLatencies } from '../open-loop/stats.js'
import type { Scenario } from './types.js'

/** The POST body of the open-loop scenarios, bytes. */
export const OPEN_LOOP_BODY_BYTES = 1024
/** Keep-alive connections the generator may open. */
export const OPEN_LOOP_CONNECTIONS = 64

function openLoop (rate: number): Scenario {
  return {
    id: `open-loop-${rate}`,
    title: `HTTP/1.1 open loop at ${rate.toLocaleString('en-US')} req/s, 1 KiB POST`,
    tool: `open-loop/generator.js --rate ${rate} --body ${OPEN_LOOP_BODY_BYTES} --connections ${OPEN_LOOP_CONNECTIONS}`,
    kind: 'open-loop',
    run: async (entry, options) => {
      const result = await runOpenLoop({
        port: entry.http1,
        authority: AUTHORITY.http1,
        rate,
        durationSeconds: options.durationSeconds,
        bodyBytes: OPEN_LOOP_BODY_BYTES,
        connections: OPEN_LOOP_CONNECTIONS,
      })
      const latency = summariseLatencies(result.samples.map((s) => s.latencyMs))
      if (latency.count === 0) throw new Error(`no successful response at ${rate} req/s (${result.failures.length} failed)`)
      return {
        value: latency.count / options.durationSeconds,
        unit: 'req/s',
        offeredRate: rate,
        p50Ms: latency.p50Ms,
        p90Ms: latency.p90Ms,
        p99Ms: latency.p99Ms,
        maxMs: latency.maxMs,
        errors: result.failures.length,
        queued: result.queuedAtMs.length,
        work: latency.count,
      }
    },
  }
}

export const openLoop500 = openLoop(500)
export const openLoop1000 = openLoop(1000)
export const openLoop2000 = openLoop(2000)
