/**
 * TCP bulk throughput: one iperf3 stream client → server for the scenario's duration. iperf3's
 * control connection and its data connection both go through the path's TCP entry port.
 */
import { runIperf3 } from '../tools.js'
import type { Scenario } from './types.js'

export const tcpBulk: Scenario = {
  id: 'tcp-bulk',
  title: 'TCP bulk',
  tool: 'iperf3 -P1 -J',
  run: async (entry, options) => {
    const result = await runIperf3({ port: entry.tcp, durationSeconds: options.durationSeconds })
    return { value: result.megabytesPerSecond, unit: 'MB/s', errors: result.retransmits, work: result.bytes / 1e6 }
  },
}
