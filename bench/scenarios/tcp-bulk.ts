/**
 * TCP bulk throughput: iperf3 client → server for the scenario's duration, with one data stream
 * (`tcp-bulk`, `-P1`) or four at once (`tcp-bulk-p4`, `-P4`: four tunnels on the one peer
 * session, so the proxies' per-tunnel cost and the session's flow control are both in it).
 * iperf3's control connection and its data connections all go through the path's TCP entry port.
 */
import { runIperf3 } from '../tools.js'
import type { Scenario } from './types.js'

/** A TCP bulk scenario with `streams` parallel iperf3 data streams. */
export function tcpBulkScenario (id: string, title: string, streams: number): Scenario {
  return {
    id,
    title,
    tool: `iperf3 -P${streams} -J`,
    run: async (entry, options) => {
      const result = await runIperf3({ port: entry.tcp, durationSeconds: options.durationSeconds, streams })
      return { value: result.megabytesPerSecond, unit: 'MB/s', errors: result.retransmits, work: result.bytes / 1e6 }
    },
  }
}

/** One stream (`-P1`); the id and title of issue 2's report. */
export const tcpBulk: Scenario = tcpBulkScenario('tcp-bulk', 'TCP bulk', 1)

/** Four parallel streams (`-P4`). */
export const tcpBulkP4: Scenario = tcpBulkScenario('tcp-bulk-p4', 'TCP bulk, 4 streams', 4)
