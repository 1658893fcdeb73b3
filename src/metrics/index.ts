/**
 * The metrics of one meshgate process: builds the prom-client registry with every `meshgate_`
 * family plus process and Node runtime metrics, and the hooks that feed it (Telemetry for the roles,
 * TransportObserver, BalancerObserver, DiscoveryObserver).
 */
import { MulticlusterMetrics } from './multicluster-metrics.js'
import type { QuicPathObserver, TransportObserver } from '../../transports/contract.js'
import { noopBalancerObserver, type BalancerObserver } from '../balance/observer.js'
import { noopDiscoveryObserver, type DiscoveryObserver } from '../discovery/observer.js'
import { noopTelemetry, type Telemetry } from '../telemetry.js'
import { balancerObserver } from './balance-metrics.js'
import { discoveryObserver } from './discovery-metrics.js'
import { HttpMetrics } from './http-metrics.js'
import { identityObserver } from './identity-metrics.js'
import { noopIdentityObserver, type IdentityObserver } from '../identity/observer.js'
import { LabelGuard } from './label-guard.js'
import { Registry } from './prom.js'
import { registerRuntimeMetrics } from './runtime.js'
import { noopRouteCounters, routeCounters, type RouteCounters } from './route-metrics.js'
import { CounterFamily } from './series.js'
import { TcpMetrics } from './tcp-metrics.js'
import { pluginObserver } from './plugin-metrics.js'
import { dataPathObserver, noopDataPathObserver } from './data-path-metrics.js'
import type { DataPathObserver } from '../outbound/native-http.js'
import { appClientObserver } from './app-client-metrics.js'
import { noopAppClientObserver, type AppClientObserver } from '../outbound/app-observer.js'
import { noopPluginObserver, type PluginObserver } from '../plugins/observer.js'
import { TransportMetrics } from './transport-metrics.js'
import { TransportSelectionMetrics } from './transport-selection-metrics.js'

export { OVERFLOW_LABEL, LabelGuard } from './label-guard.js'
export { statusClass } from './http-metrics.js'
export { CONNECTION_DURATION_BUCKETS, REQUEST_DURATION_BUCKETS, RTT_BUCKETS } from './buckets.js'

export interface MetricsOptions {
  /** Distinct `authority` label values kept before new ones become `other` (default 100). */
  maxAuthorities?: number
  /** Distinct `identity` / `peer_identity` values kept before new ones become `other` (default 1000). */
  maxIdentities?: number
  /** Distinct `service` values (balancer, discovery) kept before new ones become `other` (default 1000). */
  maxServices?: number
  /** False gives no-op hooks and an empty registry: the switch the bench measures against (default true). */
  enabled?: boolean
  /** Register `process_*` and `nodejs_*` runtime metrics (default true). */
  defaultMetrics?: boolean
}

export interface Metrics {
  readonly enabled: boolean
  /** Serve `registry.metrics()` with `registry.contentType`. */
  readonly registry: Registry
  /** Pass to the roles (combine with the tap through `combineTelemetry`). */
  readonly telemetry: Telemetry
  /** Pass to the transports as `TransportComponents.observer` (QUIC path samples included). */
  readonly transportObserver: TransportObserver & QuicPathObserver
  /** Pass to the TransportSelector as `onFallback` (`meshgate_transport_fallbacks_total`). */
  readonly transportFallback: (from: string, to: string, reason: string) => void
  /** Pass to the service balancers. */
  readonly balancerObserver: BalancerObserver
  /** Pass to the discovery sources. */
  readonly discoveryObserver: DiscoveryObserver
  /** Pass to the roles for their plugins (`meshgate_plugin_*`). */
  readonly pluginObserver: PluginObserver
  /** Pass to the outbound role (`meshgate_http_data_path_total`). */
  readonly dataPathObserver: DataPathObserver
  /** Pass to the outbound role for its listeners' app clients (`meshgate_app_*`). */
  readonly appClientObserver: AppClientObserver
  /** The authority cardinality guard (distinct values kept, events folded). */
  readonly authorities: LabelGuard
  readonly identities: LabelGuard
  /** The multi-cluster families (per gateway, per remote cluster); undefined when metrics are off. */
  readonly multicluster?: MulticlusterMetrics
  /** Pass to the traffic policy and the inbound rate limiter (retries, budget, 429s). */
  readonly routeCounters: RouteCounters
  /** Pass to identity rotation (`meshgate_identity_*`). */
  readonly identityObserver: IdentityObserver
}

/** Creates the registry and the hooks that feed it; one per process (or per test). */
export function createMetrics (options: MetricsOptions = {}): Metrics {
  const { maxAuthorities = 100, maxIdentities = 1000, maxServices = 1000, enabled = true, defaultMetrics = true } = options
  const registry = new Registry()
  if (!enabled) {
    return {
      enabled,
      registry,
      telemetry: noopTelemetry,
      transportObserver: {},
      transportFallback: () => {},
      balancerObserver: noopBalancerObserver,
      discoveryObserver: noopDiscoveryObserver,
      pluginObserver: noopPluginObserver,
      dataPathObserver: noopDataPathObserver,
      appClientObserver: noopAppClientObserver,
      authorities: new LabelGuard(maxAuthorities),
      identities: new LabelGuard(maxIdentities),
      routeCounters: noopRouteCounters,
      identityObserver: noopIdentityObserver,
    }
  }
  const folded = new CounterFamily({
    registry,
    name: 'meshgate_metric_labels_folded_total',
    help: 'Events whose label value was reported as "other" because the label reached its limit of distinct values.',
    labelNames: ['label'],
  })
  const authorities = new LabelGuard(maxAuthorities, folded.cell(['authority']))
  const identities = new LabelGuard(maxIdentities, folded.cell(['identity']))
  const services = new LabelGuard(maxServices, folded.cell(['service']))
  const http = new HttpMetrics(registry, authorities, identities)
  const tcp = new TcpMetrics(registry, authorities, identities)
  const transports = new TransportMetrics(registry)
  const selection = new TransportSelectionMetrics(registry)
  if (defaultMetrics) registerRuntimeMetrics(registry)
  return {
    enabled,
    registry,
    telemetry: {
      request: (e) => { http.request(e) },
      requestEnd: (e) => { http.requestEnd(e) },
      tunnel: (e) => { tcp.tunnel(e) },
    },
    transportObserver: { ...transports.observer(), ...selection.observer() },
    transportFallback: (from, to, reason) => { selection.fallback(from, to, reason) },
    balancerObserver: balancerObserver(registry, services),
    discoveryObserver: discoveryObserver(registry, services),
    pluginObserver: pluginObserver(registry),
    dataPathObserver: dataPathObserver(registry),
    appClientObserver: appClientObserver(registry),
    authorities,
    identities,
    multicluster: new MulticlusterMetrics(registry, services),
    routeCounters: routeCounters(registry, identities),
    identityObserver: identityObserver(registry),
  }
}
