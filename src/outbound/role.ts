/**
 * The outbound role, assembled in one place as named steps:
 *   listen → detect → route (authority / listener service) → pick endpoint → pooled peer session
 *   → request or CONNECT tunnel.
 */
import type { Logger } from 'pino'
import type { Limits, OutboundConfig, ServiceConfig, Timeouts } from '../config/types.js'
import type { TrafficPolicy } from '../route/policy.js'
import type { RoutePlugins } from '../route/route-plugins.js'
import type { Telemetry } from '../telemetry.js'
import type { TlsMaterial } from '../../transports/contract.js'
import type { TransportRegistry } from '../../transports/registry.js'
import { InflightCounter, type OutboundContext, type RemoteSessionSource } from './context.js'
import type { EndpointPicker } from './endpoint-picker.js'
import { startOutboundListener, type OutboundListener } from './listener.js'
import type { DataPathObserver } from './native-http.js'
import { AuthorityRouter } from './router.js'
import { serviceByAddress } from './address-routes.js'
import { MeshError } from '../../core/errors.js'
import type { Endpoint } from '../discovery/types.js'
import type { OriginalDestinationReader } from '../../transports/original-dst.js'
import { SessionPool } from './session-pool.js'
import type { PluginObserver } from '../plugins/observer.js'
import type { AppClientObserver } from './app-observer.js'
import { selectorFor } from './transport-selector.js'
import { distinctPeers, warmUp, WARM_UP_MAX_MS, type WarmUpResult } from './warm-up.js'

export interface OutboundRoleOptions {
  config: OutboundConfig
  services: Readonly<Record<string, ServiceConfig>>
  picker: EndpointPicker
  tls: TlsMaterial
  /** This workload's SPIFFE identity. */
  identity: string
  timeouts: Timeouts
  limits: Limits
  transports: TransportRegistry
  telemetry: Telemetry
  logger: Logger
  /** Sessions through remote clusters' gateways (multi-cluster). */
  remote?: RemoteSessionSource
  /** Plugin traps and disabled plugins, for metrics. */
  pluginObserver?: PluginObserver
  /** Which data path each HTTP/1 request took, for metrics. */
  dataPathObserver?: DataPathObserver
  /** App clients closed by a listener's limits and h2c streams they reset, for metrics. */
  appClientObserver?: AppClientObserver
  /** Routes, splits, retries, timeouts (absent: every service as is). */
  policy?: TrafficPolicy
  /** The routes' plugin chains (absent: no route has plugins); the role closes them when it stops. */
  routePlugins?: RoutePlugins
  /** Reads a redirected socket's original destination; needed when a listener is transparent. */
  originalDestination?: OriginalDestinationReader
  /** Discovery's current endpoints of a service (transparent listeners route by endpoint address). */
  endpointsOf?: (service: string) => readonly Endpoint[]
}

export interface OutboundRole {
  readonly listeners: readonly OutboundListener[]
  readonly pool: SessionPool
  readonly inflight: InflightCounter
  /** The traffic policy new requests use (requests in flight keep theirs). */
  policy: TrafficPolicy | undefined
  /** Identity rotation: peer sessions dialled from now on use `tls`; pooled ones drain as they are. */
  setTls: (tls: TlsMaterial) => void
  /** The routes' plugin chains loaded at start; reloaded policies take theirs from here. */
  readonly routePlugins: RoutePlugins | undefined
  /**
   * Dials one pooled session per distinct peer of `endpoints` (src/outbound/warm-up.ts); resolves
   * when all settled or after min(timeouts.connectMs, 2 s), never rejects. After close() every
   * dial fails at once (the pool is closed).
   */
  warmUp: (endpoints: Iterable<Endpoint>) => Promise<WarmUpResult>
  /** Stops accepting, waits for in-flight work (bounded by the caller), then GOAWAY to peers. */
  close: () => Promise<void>
  destroy: () => void
}

export async function startOutboundRole (options: OutboundRoleOptions): Promise<OutboundRole> {
  const logger = options.logger.child({ role: 'outbound' })
  const pool = new SessionPool({ tls: options.tls, connectTimeoutMs: options.timeouts.connectMs })
  const transparent = options.config.listeners.some((l) => l.originalDestination === true)
  if (transparent && options.originalDestination === undefined) {
    throw new MeshError('E_ORIGINAL_DST', 'an outbound listener has originalDestination: true, but this process cannot read SO_ORIGINAL_DST')
  }
  const names = Object.keys(options.services)
  let aliasOf: (authority: string) => string | undefined = () => undefined
  const byAddress = transparent ? serviceByAddress((a) => aliasOf(a), names, options.endpointsOf ?? (() => [])) : undefined
  const router = new AuthorityRouter(options.services, byAddress)
  aliasOf = (a) => router.resolveAlias(a)
  const ctx: OutboundContext = {
    router,
    originalDestination: options.originalDestination,
    serviceByAddress: byAddress,
    picker: options.picker,
    pool,
    transports: options.transports,
    timeouts: options.timeouts,
    telemetry: options.telemetry,
    logger,
    identity: options.identity,
    inflight: new InflightCounter(),
    remote: options.remote,
    policy: options.policy,
    appClients: options.appClientObserver,
  }
  const listeners: OutboundListener[] = []
  try {
    for (const config of options.config.listeners) {
      listeners.push(await startOutboundListener(ctx, config, options.limits, options.pluginObserver, options.dataPathObserver))
    }
  } catch (err) {
    for (const l of listeners) l.destroy()
    options.routePlugins?.close().catch(() => {})
    throw err
  }
  return {
    listeners,
    pool,
    inflight: ctx.inflight,
    get policy () { return ctx.policy },
    set policy (policy: TrafficPolicy | undefined) { ctx.policy = policy },
    setTls: (tls) => { pool.setTls(tls) },
    routePlugins: options.routePlugins,
    warmUp: async (endpoints) => {
      const selector = selectorFor(options.transports, pool)
      return await warmUp(async (e, signal) => await selector.warm(e, signal), distinctPeers(endpoints), Math.min(options.timeouts.connectMs, WARM_UP_MAX_MS))
    },
    close: async () => {
      for (const l of listeners) l.close()
      await ctx.inflight.idle()
      await Promise.all([...listeners.map(async (l) => { await l.closePlugins() }), options.routePlugins?.close()])
      await pool.close()
    },
    destroy: () => {
      for (const l of listeners) l.destroy()
      options.routePlugins?.close().catch(() => {})
      pool.destroy()
    },
  }
}
