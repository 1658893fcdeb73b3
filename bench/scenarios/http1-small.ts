/**
 * HTTP/1.1 small requests at fixed concurrency: wrk, one thread, 32 keep-alive connections,
 * `GET /` answered with a 2-byte body.
 */
import { AUTHORITY } from '../names.js'
import { runWrk } from '../tools.js'
import type { Scenario, Measurement } from './types.js'

const CONNECTIONS = 32

export const http1Small: Scenario = {
  id: 'http1-small',
  title: 'HTTP/1.1 small requests',
  tool: `wrk -t1 -c${CONNECTIONS} --latency`,
  run: async (entry, options) => await wrkHttp1(entry.http1, options.durationSeconds),
}

/** One wrk run against an HTTP/1 entry port (with the Lua `script`, if given), as a scenario result. */
export async function wrkHttp1 (port: number, durationSeconds: number, script?: string): Promise<Measurement> {
  const result = await runWrk({
    url: `http://127.0.0.1:${port}/`,
    threads: 1,
    connections: CONNECTIONS,
    durationSeconds,
    headers: [`Host: ${AUTHORITY.http1}`],
    ...(script === undefined ? {} : { script }),
  })
  return { value: result.requestsPerSecond, unit: 'req/s', p50Ms: result.p50Ms, p99Ms: result.p99Ms, errors: result.errors, work: result.requests }
}
