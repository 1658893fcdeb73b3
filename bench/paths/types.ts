/**
 * A path is one way for the load tools to reach the upstreams: directly, through the HAProxy
 * pair, through the meshgate pair on either data plane (and variants: meshgate over h3, metrics off). Each
 * starts its proxies, says where the load goes in, and which processes to measure.
 */
import type { BenchCertificates } from '../certs.js'
import type { TrafficPorts } from '../haproxy.js'
import type { BenchProcess } from '../processes.js'

/** What every path gets: the run's working directory, certificates and upstream ports. */
export interface BenchContext {
  /** Directory for this run's generated configs, certificates and logs. */
  workDir: string
  /** Root of the meshgate checkout (where dist/ is). */
  repoDir: string
  certs: BenchCertificates
  upstream: TrafficPorts
}

/** A started path. */
export interface PathInstance {
  /** Where the load tools connect, per kind of traffic. */
  entry: TrafficPorts
  /** The proxy processes whose RSS and CPU are measured (none for direct). */
  processes: BenchProcess[]
  /** Stops every process the path started; safe to call twice. */
  stop: () => Promise<void>
  /** What runs, for the report (e.g. the meshgate pair's data plane as its processes report it). */
  description?: string
}

export interface PathDefinition {
  /** Stable id used in report.json (`direct`, `haproxy-pair`, `meshgate-native`, `meshgate-js`). */
  id: string
  /** Label for the report. */
  title: string
  /** Starts the path; rejects with a message saying why it is not available. */
  start: (context: BenchContext) => Promise<PathInstance>
}
