/**
 * One meshgate process, assembled from its config in a documented order:
 *   transports (the h2 data plane, then h3) → demo upstream → inbound role → outbound role → admin server.
 * Shutdown runs the other way: stop accepting, drain in-flight work up to a deadline (GOAWAY to
 * peers), then drop what is left.
 */
import { X509Certificate } from 'node:crypto'
import type { Logger } from 'pino'
import { accessLog } from './access-log.js'
import { startAdmin, TapHub, type AdminServer } from './admin/index.js'
import type { MeshConfig, TlsFiles } from './config/types.js'
import { MeshError } from '../core/errors.js'
import type { DemoTraffic } from './demo/traffic.js'
import type { DemoUpstream } from './demo/upstream.js'
import type { ConfiguredDiscovery } from './discovery/from-config.js'
import { spiffeIdFromSubjectAltName } from '../core/identity/spiffe.js'
import { readTlsMaterial } from './identity/tls-files.js'
import type { GatewayRole } from './gateway/role.js'
import type { IdentityRotation } from './identity/rotation.js'
import type { InboundRole } from './inbound/role.js'
import type { RemoteClusters } from './multicluster/remote-clusters.js'
import { createMetrics, type Metrics } from './metrics/index.js'
import type { OutboundRole } from './outbound/role.js'
import { combineTelemetry } from './telemetry.js'
import { describeDataPlane, selectDataPlane, type DataPlane, type DataPlaneSelection } from './data-plane.js'
import type { TlsMaterial, TransportFactory } from '../transports/contract.js'
import { h2Transport, type H2Options } from '../transports/h2/index.js'
import { TransportRegistry } from '../transports/registry.js'

export interface RunningProxy {
  /** Graceful: stop accepting, let in-flight work finish up to `deadlineMs`, then close. Safe twice. */
  drain: (deadlineMs: number) => Promise<void>
  /** Abrupt. Safe twice. */
  close: () => Promise<void>
  readonly metrics: Metrics
  readonly outbound?: OutboundRole
  readonly inbound?: InboundRole
  /** The gateway role (multi-cluster), when the config has one. */
  readonly gateway?: GatewayRole
  readonly demo?: DemoUpstream
  readonly adminAddress?: { host: string, port: number }
  /** The engine carrying this process's h2 peer sessions (`dataPlane` resolved at start). */
  readonly dataPlane: DataPlane
  /** What `dataPlane` was, what it resolved to and why (as `/config` shows it). */
  readonly dataPlaneSelection: DataPlaneSelection
  /**
   * Applies what a new config changes in place: routes, splits, retries, route timeouts and retry
   * budgets, inbound rate limits. Returns the config paths it changes that need a restart.
   */
  reload: (config: MeshConfig) => string[]
  /** Identity rotation per role that has TLS files (`inbound`, `outbound`, `gateway`). */
  readonly identity: Readonly<Record<string, IdentityRotation>>
  /** Settles once the outbound warm-up is over (done, out of time or failed), at once without one. */
  readonly warmedUp: Promise<void>
}

export interface StartOptions {
  /** Metrics on (default) or off (the bench's switch). */
  metrics?: boolean
  /** What `POST /shutdown` on the admin server does (default: drain for the config's drainMs). */
  onShutdown?: () => void
}

/** The SPIFFE ID in a PEM certificate's URI SAN ('' if none). */
export function identityOfCert (pem: string): string {
  return spiffeIdFromSubjectAltName(new X509Certificate(pem).subjectAltName) ?? ''
}

/** YAML paths of a config that ask for h3 outright (`auto` does not: it falls back to h2). */
export function h3Requests (config: MeshConfig): string[] {
  const paths: string[] = []
  for (const [name, service] of Object.entries(config.services)) {
    service.endpoints.forEach((e, i) => { if (e.transport === 'h3') paths.push(`services.${name}.endpoints[${i}].transport`) })
  }
  config.inbound?.listeners.forEach((l, i) => { if (l.h3 === true) paths.push(`inbound.listeners[${i}].h3`) })
  config.gateway?.listeners.forEach((l, i) => { if (l.h3 === true) paths.push(`gateway.listeners[${i}].h3`) })
  for (const [name, c] of Object.entries(config.clusters ?? {})) if (c.transport === 'h3') paths.push(`clusters.${name}.transport`)
  const walk = (value: unknown, path: string): void => {
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}[${i}]`))
    else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (k === 'transport' && v === 'h3') paths.push(`${path}.${k}`)
        else walk(v, `${path}.${k}`)
      }
    }
  }
  walk(config.discovery, 'discovery')
  return paths
}

/**
 * Whether a config may carry traffic over h3: an inbound listener that does not say `h3: false`
 * (h3 is on by default where the addon loads), a static endpoint that is not `h2`, or a discovery
 * source whose endpoints may name h3 or auto (dns and kubernetes default to auto; a file names a
 * transport per endpoint at run time). When none does, the h3 modules and the QUIC addon (GnuTLS,
 * ngtcp2, nghttp3: ~5 MB of RSS) are never loaded.
 */
export function mayUseH3 (config: MeshConfig): boolean {
  if (config.inbound?.listeners.some((l) => l.h3 !== false) === true) return true
  if (config.gateway?.listeners.some((l) => l.h3 !== false) === true) return true
  if (Object.values(config.clusters ?? {}).some((c) => c.transport !== 'h2')) return true
  if (Object.values(config.services).some((s) => s.endpoints.some((e) => e.transport !== 'h2'))) return true
  return Object.values(config.discovery?.sources ?? {}).some((source) =>
    source.kind === 'file' || Object.values(source.services).some((s) => s.transport !== 'h2'))
}

/**
 * Registers the h3 transport when the QUIC addon loads; otherwise logs one line saying why (h2
 * only), or, when the config asks for h3 outright, fails naming the apt packages to install.
 * Warns when the kernel caps the UDP socket buffers below the configured sizes.
 */
async function addH3Transport (config: MeshConfig, transports: TransportRegistry, logger: Logger, dataPlane: DataPlane): Promise<void> {
  const { bufferShortfall, grantedUdpBuffers, h3AptPackages, h3Availability, h3Transport } = await import('../transports/h3/index.js')
  const availability = h3Availability()
  if (!availability.available) {
    const asked = h3Requests(config)
    const packages = availability.missingPackages.length > 0
      ? `missing apt packages ${availability.missingPackages.join(', ')}: apt-get install -y ${availability.missingPackages.join(' ')}, then npm run native:build`
      : `the addon is not built (its apt packages ${h3AptPackages().join(', ')} are installed): npm run native:build`
    if (asked.length > 0) {
      throw new MeshError('E_TRANSPORT_UNAVAILABLE', `${config.file}: ${asked.join(', ')} asks for h3, but the QUIC addon is not available: ${packages}\n${availability.reason}`)
    }
    logger.info({ missingPackages: availability.missingPackages }, `h3 (QUIC) transport not available, peers use h2: ${packages}`)
    return
  }
  const h3 = config.h3
  const options = {
    maxConcurrentStreams: h3.maxConcurrentStreams,
    idleTimeoutMs: h3.idleTimeoutMs,
    keepAliveMs: h3.keepAliveMs,
    peerSilenceMs: h3.peerSilenceMs,
    streamWindowBytes: h3.streamWindowBytes,
    connectionWindowBytes: h3.connectionWindowBytes,
    congestionControl: h3.congestionControl,
    recvBufferBytes: h3.recvBufferBytes,
    sendBufferBytes: h3.sendBufferBytes,
    // The data plane decides for h3 too: native splices tunnels in the addon, js moves them in JS.
    spliceSockets: dataPlane === 'native',
  }
  transports.add(h3Transport(options))
  // An h3 listener reports what its own socket got; a process that only dials out checks here.
  if (config.inbound === undefined) {
    const shortfall = bufferShortfall(options, await grantedUdpBuffers(options))
    if (shortfall !== undefined) logger.warn(shortfall.figures, shortfall.message)
  }
}

/**
 * The `h2` transport of the resolved data plane: node:http2 for `js` (transports/h2-native is then
 * never loaded), the native engine for `native`, or for `auto` when its addon loads. Logs one
 * line saying which and why; `native` without the engine fails (E_TRANSPORT_UNAVAILABLE).
 */
async function h2DataPlane (config: MeshConfig, logger: Logger): Promise<{ selection: DataPlaneSelection, factory: TransportFactory }> {
  const options: H2Options = {
    connectionWindowBytes: config.h2.connectionWindowBytes,
    streamWindowBytes: config.h2.streamWindowBytes,
    maxConcurrentStreams: config.h2.maxConcurrentStreams,
    keepAliveMs: config.h2.keepAliveMs,
    keepAliveTimeoutMs: config.h2.keepAliveTimeoutMs,
    maxHeaderListBytes: config.limits.maxHeaderBytes,
  }
  let selection: DataPlaneSelection
  let factory: TransportFactory
  if (config.dataPlane === 'js') {
    selection = selectDataPlane(config, undefined)
    factory = h2Transport(options)
  } else {
    const native = await import('../transports/h2-native/index.js')
    selection = selectDataPlane(config, native.h2NativeAvailability())
    factory = selection.effective === 'native' ? native.h2NativeTransport(options) : h2Transport(options)
  }
  const { configured, effective, reason, installHint } = selection
  logger.info({ dataPlane: effective, configured, reason, installHint }, describeDataPlane(selection))
  return { selection, factory }
}

export async function startProxy (config: MeshConfig, logger: Logger, options: StartOptions = {}): Promise<RunningProxy> {
  const [reloadModule, { policyFor }] = await Promise.all([import('./reload.js'), import('./route/from-config.js')])
  /** The config in force (a reload replaces it). */
  let current = config
  const metrics = createMetrics({
    enabled: options.metrics ?? config.metrics.enabled,
    maxAuthorities: config.metrics.maxAuthorities,
    maxIdentities: config.metrics.maxIdentities,
  })
  const tap = new TapHub()
  const telemetry = combineTelemetry(metrics.telemetry, tap, accessLog(logger, { enabled: config.log.access, sampleRate: config.log.accessSampleRate }))
  const transports = new TransportRegistry({ logger: logger.child({ component: 'transport' }), observer: metrics.transportObserver })
  // One `h2` transport: the native engine's or node:http2's, never both (the names collide).
  const h2 = await h2DataPlane(config, logger)
  transports.add(h2.factory)
  if (mayUseH3(config)) await addH3Transport(config, transports, logger, h2.selection.effective)

  let demo: DemoUpstream | undefined
  const demoInstances: DemoUpstream[] = []
  let inbound: InboundRole | undefined
  let outbound: OutboundRole | undefined
  let discovery: ConfiguredDiscovery | undefined
  let admin: AdminServer | undefined
  let traffic: DemoTraffic | undefined
  let gateway: GatewayRole | undefined
  let remote: RemoteClusters | undefined
  let ready = false
  /** Outbound warm-up (one session per known peer) done or out of time; true without an outbound. */
  let warmed = true
  const identity: Record<string, IdentityRotation> = {}
  const watchIdentity = async (role: string, files: TlsFiles, initial: TlsMaterial, apply: (tls: TlsMaterial) => void): Promise<void> => {
    const { IdentityRotation } = await import('./identity/rotation.js')
    const rotation = new IdentityRotation({ role, files, initial, apply, config: config.identity, logger, observer: metrics.identityObserver })
    rotation.start()
    identity[role] = rotation
  }
  const stopWatching = (): void => {
    for (const rotation of Object.values(identity)) rotation.close()
  }
  const destroyAll = (): void => {
    stopWatching()
    traffic?.stop()
    outbound?.destroy()
    remote?.destroy()
    gateway?.destroy()
    discovery?.close().catch(() => {})
    inbound?.destroy()
    demo?.close().catch(() => {})
    for (const d of demoInstances) d.close().catch(() => {})
    admin?.close().catch(() => {})
  }
  try {
    // Each part's modules are loaded only when the config has that part: an inbound-only process
    // never loads the outbound role, discovery and balancers, and the other way round.
    if (config.demo !== undefined) {
      const { startDemoUpstream } = await import('./demo/upstream.js')
      demo = await startDemoUpstream(config.demo.host, config.demo.httpPort, config.demo.tcpPort, { version: config.demo.version })
      logger.info({ http: demo.httpPort, tcp: demo.tcpPort, version: config.demo.version }, 'demo upstream ready')
      for (const instance of config.demo.instances) {
        const more = await startDemoUpstream(config.demo.host, instance.httpPort, 0, { version: instance.version, echo: false })
        demoInstances.push(more)
        logger.info({ http: more.httpPort, version: instance.version }, 'demo upstream ready')
      }
    }
    if (config.inbound !== undefined) {
      const { startInboundRole } = await import('./inbound/role.js')
      const inboundTls = await readTlsMaterial(config.inbound.tls)
      inbound = await startInboundRole({
        config: config.inbound,
        tls: inboundTls,
        timeouts: config.timeouts,
        transports,
        telemetry,
        logger,
        pluginObserver: metrics.pluginObserver,
        identity: identityOfCert(inboundTls.cert),
        onRateLimited: metrics.routeCounters.rateLimited,
        dataPathObserver: metrics.dataPathObserver,
      })
      const role = inbound
      await watchIdentity('inbound', config.inbound.tls, inboundTls, (tls) => role.setTls(tls))
    }
    // Discovery feeds the outbound role and the gateway; remote clusters add their gateways' exports.
    if (config.outbound !== undefined || config.gateway !== undefined) {
      const [{ discoveryFromConfig }, { configureSelection }] = await Promise.all([
        import('./discovery/from-config.js'), import('./outbound/transport-selector.js'),
      ])
      configureSelection(transports, {
        headStartMs: config.h3.autoHeadStartMs,
        retryH3Ms: config.h3.autoRetryH3Ms,
        onFallback: metrics.transportFallback,
        logger: logger.child({ component: 'transport-selector' }),
      })
      if (config.clusters !== undefined && config.outbound !== undefined) {
        const { RemoteClusters } = await import('./multicluster/remote-clusters.js')
        remote = new RemoteClusters({
          clusters: config.clusters,
          tls: await readTlsMaterial(config.outbound.tls),
          transports,
          timeouts: config.timeouts,
          logger: logger.child({ component: 'multicluster' }),
          observer: metrics.multicluster?.remoteClusters(),
        })
      }
      const remoteSources = remote
      // Discovery sources feed one balancer per service (P2C peak-EWMA / least-loaded, failure accrual, queue).
      discovery = await discoveryFromConfig(config, {
        logger,
        balancerObserver: metrics.balancerObserver,
        discoveryObserver: metrics.discoveryObserver,
        remoteSource: remoteSources === undefined ? undefined : (cluster, observer) => remoteSources.source(cluster, observer),
      })
    }
    if (config.gateway !== undefined && discovery !== undefined) {
      const { startGateway } = await import('./gateway/start.js')
      gateway = await startGateway({ config, directory: discovery.directory, transports, telemetry, metrics, logger })
      if (config.gateway !== undefined) {
        const role = gateway
        await watchIdentity('gateway', config.gateway.tls, await readTlsMaterial(config.gateway.tls), (tls) => role.setTls(tls))
      }
    }
    if (config.outbound !== undefined && discovery !== undefined) {
      const [{ startOutboundRole }, { pickerFor }, { policyFor }] = await Promise.all([
        import('./outbound/role.js'), import('./multicluster/failover-picker.js'), import('./route/from-config.js'),
      ])
      const tls = await readTlsMaterial(config.outbound.tls)
      const { RoutePlugins } = await import('./route/route-plugins.js')
      const routePlugins = await RoutePlugins.load(config.services, { logger: logger.child({ component: 'route-plugins' }), observer: metrics.pluginObserver })
      outbound = await startOutboundRole({
        config: config.outbound,
        services: config.services,
        picker: pickerFor(config.services, discovery.directory, metrics.multicluster, logger),
        tls,
        identity: identityOfCert(tls.cert),
        timeouts: config.timeouts,
        limits: config.limits,
        transports,
        telemetry,
        logger,
        remote,
        pluginObserver: metrics.pluginObserver,
        dataPathObserver: metrics.dataPathObserver,
        appClientObserver: metrics.appClientObserver,
        policy: policyFor(config, metrics.routeCounters, undefined, routePlugins),
        routePlugins,
        ...(config.outbound.listeners.some((l) => l.originalDestination === true)
          ? { originalDestination: (await import('../transports/original-dst.js')).originalDestinationReader(), endpointsOf: (s: string) => discovery?.directory.endpoints(s) ?? [] }
          : {}),
      })
      const role = outbound
      await watchIdentity('outbound', config.outbound.tls, tls, (next) => {
        role.setTls(next)
        remote?.setTls(next)
      })
      const demoTraffic = config.demo?.trafficPerSecond ?? 0
      const [first] = outbound.listeners
      if (demoTraffic > 0 && first !== undefined) {
        const tcp = outbound.listeners.find((l) => l.config.protocol === 'tcp')
        const { startDemoTraffic } = await import('./demo/traffic.js')
        traffic = startDemoTraffic({
          listener: first.address(),
          tcpListener: tcp?.address(),
          authority: config.demo?.trafficAuthority ?? 'demo.local',
          perSecond: demoTraffic,
        })
        logger.info({ perSecond: demoTraffic }, 'demo traffic on')
      }
    }
    if (config.admin !== undefined) {
      admin = await startAdmin({
        host: config.admin.host,
        port: config.admin.port,
        remoteAccess: config.admin.remoteAccess,
        registry: metrics.registry,
        logger,
        // The config as loaded, with `dataPlane` showing what it resolved to and which path
        // each outbound listener's HTTP/1 takes (native engine or node:http).
        getConfig: () => ({
          ...current,
          dataPlane: h2.selection,
          ...(outbound === undefined ? {} : { http1DataPath: Object.fromEntries(outbound.listeners.map((l) => [l.config.name, l.http1DataPath])) }),
        }),
        ready: () => ready && warmed && (discovery?.primed() ?? true),
        onShutdown: () => (options.onShutdown ?? (() => { drain(config.drainMs).catch(() => {}) }))(),
        tap,
      })
      logger.info({ ...admin.address }, 'admin server ready')
    }
  } catch (err) {
    destroyAll()
    throw err
  }
  ready = true
  let warmedUp = Promise.resolve()
  if (outbound !== undefined && discovery !== undefined) {
    // Once discovery is primed, one session per known peer before /ready says 200, so the first
    // requests do not each wait for a handshake (issue 11's cold start); bounded by the role.
    warmed = false
    const role = outbound
    const found = discovery
    warmedUp = found.whenPrimed().then(async () => {
      if (!ready) return // draining already
      const endpoints = Object.keys(current.services).flatMap((s) => found.directory.endpoints(s))
      const result = await role.warmUp(endpoints)
      logger.info(result, result.pending === 0 ? 'outbound warm-up done' : 'outbound warm-up out of time; ready anyway')
    }).catch((err: unknown) => {
      logger.warn({ err }, 'outbound warm-up failed; ready anyway')
    }).finally(() => { warmed = true })
  }

  let drained: Promise<void> | undefined
  const drain = async (deadlineMs: number): Promise<void> => {
    drained ??= (async () => {
      ready = false
      stopWatching()
      traffic?.stop()
      logger.info({ deadlineMs }, 'draining')
      let timer: NodeJS.Timeout | undefined
      const deadline = new Promise<'deadline'>((resolve) => { timer = setTimeout(() => resolve('deadline'), deadlineMs) })
      const graceful = Promise.allSettled([
        outbound?.close().then(async () => await remote?.close()), inbound?.close(), gateway?.close(),
      ]).then(() => 'drained' as const)
      const outcome = await Promise.race([graceful, deadline])
      clearTimeout(timer)
      if (outcome === 'deadline') logger.warn({ deadlineMs }, 'drain deadline reached; dropping what is left')
      destroyAll()
      await Promise.allSettled([demo?.close(), ...demoInstances.map(async (d) => await d.close()), admin?.close()])
      logger.info('stopped')
    })()
    await drained
  }
  const reload = (next: MeshConfig): string[] => {
    const { needsRestart } = reloadModule
    const restart = needsRestart(current, next)
    if (outbound !== undefined) outbound.policy = policyFor(next, metrics.routeCounters, outbound.policy, outbound.routePlugins)
    inbound?.setRateLimit(next.inbound?.rateLimit)
    if (next.log.level !== current.log.level) logger.level = next.log.level
    if (restart.length > 0) logger.warn({ paths: restart }, `config changes that need a restart were not applied: ${restart.join(', ')}`)
    current = next
    return restart
  }
  return {
    reload,
    drain,
    close: async () => await drain(0),
    metrics,
    outbound,
    inbound,
    gateway,
    demo,
    adminAddress: admin?.address,
    dataPlane: h2.selection.effective,
    dataPlaneSelection: h2.selection,
    identity,
    warmedUp,
  }
}
