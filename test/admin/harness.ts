/** Starts a real admin server on 127.0.0.1:0 with real metrics, tap and pino logger, for the admin tests. */
import { Writable } from 'node:stream'
import { startAdmin, TapHub, type AdminServer, type TapHubOptions } from '../../src/admin/index.js'
import { createLogger, type Logger } from '../../src/log.js'
import { createMetrics, type Metrics } from '../../src/metrics/index.js'

export interface Harness {
  admin: AdminServer
  metrics: Metrics
  tap: TapHub
  logger: Logger
  /** JSON log lines written so far. */
  logs: Array<Record<string, unknown>>
  state: { ready: boolean, shutdowns: number }
}

export async function startHarness (options: { config?: unknown, tap?: TapHubOptions } = {}): Promise<Harness> {
  const logs: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>)
      cb()
    },
  })
  const logger = createLogger('info', sink)
  const metrics = createMetrics({ defaultMetrics: false })
  const tap = new TapHub(options.tap)
  const state = { ready: false, shutdowns: 0 }
  const admin = await startAdmin({
    port: 0,
    registry: metrics.registry,
    logger,
    getConfig: () => options.config ?? {},
    ready: () => state.ready,
    onShutdown: () => { state.shutdowns++ },
    tap,
  })
  return { admin, metrics, tap, logger, logs, state }
}
