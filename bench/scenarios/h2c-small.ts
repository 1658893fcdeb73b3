/**
 * h2c small requests: h2load with 8 connections × 16 concurrent streams (prior knowledge),
 * `GET /` answered with a 2-byte body; latency percentiles from h2load's per-request log.
 */
import { join } from 'node:path'
import { AUTHORITY } from '../names.js'
import { runH2load } from '../tools.js'
import type { Scenario } from './types.js'

const CLIENTS = 8
const STREAMS = 16

export const h2cSmall: Scenario = {
  id: 'h2c-small',
  title: 'h2c small requests',
  tool: `h2load -c${CLIENTS} -m${STREAMS} -D<duration>`,
  run: async (entry, options) => {
    const result = await runH2load({
      url: `http://127.0.0.1:${entry.h2c}/`,
      clients: CLIENTS,
      streamsPerClient: STREAMS,
      durationSeconds: options.durationSeconds,
      logFile: join(options.workDir, 'h2load-requests.log'),
      headers: [`:authority: ${AUTHORITY.h2c}`],
    })
    return { value: result.requestsPerSecond, unit: 'req/s', p50Ms: result.p50Ms, p99Ms: result.p99Ms, errors: result.errors, work: result.requests }
  },
}
