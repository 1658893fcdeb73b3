/**
 * HTTP/1.1 small requests at fixed concurrency: wrk, one thread, 32 keep-alive connections,
 * `GET /` answered with a 2-byte body.
 */
import { AUTHORITY } from '../names.js'
import { runWrk } from '../tools.js'
import type { Scenario } from './types.js'

const CONNECTIONS = 32

export const http1Small: Scenario = {
  id: 'http1-small',
  title: 'HTTP/1.1 small requests',
  tool: `wrk -t1 -c${CONNECTIONS} --latency`,
  run: async (entry, options) => {
    const result = await runWrk({
      url: `http://127.0.0.1:${entry.http1}/`,
      threads: 1,
      connections: CONNECTIONS,
      durationSeconds: options.durationSeconds,
      headers: [`Host: ${AUTHORITY.http1}`],
    })
    return { value: result.requestsPerSecond, unit: 'req/s', p50Ms: result.p50Ms, p99Ms: result.p99Ms, errors: result.errors, work: result.requests }
  },
}
