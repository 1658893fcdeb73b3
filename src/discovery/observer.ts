// What discovery sources report for metrics: an interface the metrics module binds to prom-client.
import type { DiscoveryUpdate } from './types.js'
import type { DiscoveryErrorCode } from './codes.js'

/** Discovery events per source (`source` is the source's `name`). Calls are cheap and synchronous. */
export interface DiscoveryObserver {
  /** A source pushed an update for a service. */
  updated: (source: string, service: string, kind: DiscoveryUpdate['kind']) => void
  /** A source hit a problem and kept its last good set; `code` is also in the log line. */
  error: (source: string, code: DiscoveryErrorCode) => void
  /** The endpoint count a source now reports for a service (0 when it does not exist). */
  endpoints: (source: string, service: string, count: number) => void
}

export const noopDiscoveryObserver: DiscoveryObserver = {
  updated: () => {},
  error: () => {},
  endpoints: () => {},
}
